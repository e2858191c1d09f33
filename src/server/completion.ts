/**
 * Runs one generation request of any API (chat, text completions, Responses, Anthropic
 * Messages), streaming or not: admission against the queue bound, starting the generation
 * (engine input errors become 400s before any SSE byte), aborting it when the client leaves,
 * metrics, and the request's log outcome. Each API describes its objects in a CompletionPlan.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { MlxNativeError } from '../errors.js';
import type { GenerationChunk, GenerationResult } from '../engine/types.js';
import { forRequest, toHttpError, type HttpError, type PromptParam } from './errors.js';
import type { Metrics } from './metrics.js';
import type { RequestOutcome } from './request-log.js';
import { SseStream, type SseFraming } from './sse.js';
import type { ServedGeneration, ServerState, TrackedGeneration } from './state.js';

/** How one request turns into an API's objects; each generating route makes one. */
export interface CompletionPlan {
  /** The body field that carries the prompt, named in context-length errors. */
  promptParam: PromptParam;
  stream: boolean;
  /** SSE framing (default 'chunks', OpenAI's chat/completions framing). */
  framing?: SseFraming;
  /** Starts the generation; may throw MlxNativeError synchronously for bad input. */
  start(): ServedGeneration;
  /** Objects to send when the stream opens (the chat role chunk), if any. */
  opening(): unknown[];
  /** The event for one engine chunk, an array of events, or undefined when there is nothing to send. */
  chunk(chunk: GenerationChunk): unknown;
  /** Events that end a stream: the finish chunk and, when asked for, the usage chunk. */
  closing(result: GenerationResult): unknown[];
  /** The whole response of a non-streaming request. */
  whole(result: GenerationResult): unknown;
  /** The `error` event's data when generation fails mid-stream (default: the OpenAI error body). */
  streamError?(err: HttpError): unknown;
}

/** What the runner needs from the app. */
export interface CompletionDeps {
  state: ServerState;
  metrics: Metrics;
}

/**
 * Runs `plan` for `request`; returns the body of a non-streaming response, or undefined once a
 * stream was written (or the client left).
 *
 * @example
 * return runCompletion(deps, request, reply, chatPlan(body, model, name));
 */
export async function runCompletion(
  deps: CompletionDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  plan: CompletionPlan,
): Promise<unknown> {
  const { state, metrics } = deps;
  if (!state.tryAdmit()) {
    throw new MlxNativeError('QUEUE_FULL', 'The server is at its request limit (--max-queue); retry shortly');
  }
  metrics.inFlight.inc();

  let generation: ServedGeneration;
  const submittedAt = performance.now();
  try {
    generation = plan.start();
  } catch (err) {
    state.release();
    metrics.inFlight.dec();
    throw forRequest(err, plan.promptParam);
  }
  // Admitted: from here on the request ends as completed, errored or cancelled, and says so.
  metrics.admitted.inc();

  let settle!: () => void;
  const outcome: RequestOutcome = {
    submittedAt,
    promptTokens: generation.promptTokens,
    completionTokens: 0,
    settled: new Promise((resolve) => (settle = resolve)),
  };
  request.outcome = outcome;
  const tracked = state.track(generation);

  // 'close' on the response before it finished means the client is gone: stop generating.
  const onClose = () => {
    if (!reply.raw.writableFinished) tracked.abort('client_disconnect');
  };
  reply.raw.on('close', onClose);
  if (reply.raw.destroyed) onClose();

  try {
    if (plan.stream) {
      await streamTo(reply, plan, generation, tracked, deps, outcome);
      return undefined;
    }
    const result = await consume(generation, deps, outcome, () => undefined);
    finish(result, tracked, deps, outcome);
    if (tracked.abortReason === 'client_disconnect') {
      // Nobody to answer; keep fastify from writing to the closed socket.
      reply.hijack();
      return undefined;
    }
    return plan.whole(result);
  } catch (err) {
    outcome.errorCode = err instanceof MlxNativeError ? err.code : 'INTERNAL';
    throw forRequest(err, plan.promptParam);
  } finally {
    metrics.settled.inc({ outcome: outcome.errorCode ? 'errored' : tracked.abortReason ? 'cancelled' : 'completed' });
    reply.raw.off('close', onClose);
    state.release();
    metrics.inFlight.dec();
    settle();
  }
}

/** Writes the SSE stream. Errors after the stream opened end it with an `error` event. */
async function streamTo(
  reply: FastifyReply,
  plan: CompletionPlan,
  generation: ServedGeneration,
  tracked: TrackedGeneration,
  deps: CompletionDeps,
  outcome: RequestOutcome,
): Promise<void> {
  const sse = SseStream.open(reply, plan.framing);
  for (const event of plan.opening()) await sse.send(event);
  let result: GenerationResult;
  try {
    result = await consume(generation, deps, outcome, async (chunk) => {
      const event = plan.chunk(chunk);
      for (const e of event === undefined ? [] : Array.isArray(event) ? event : [event]) await sse.send(e);
    });
  } catch (err) {
    outcome.errorCode = err instanceof MlxNativeError ? err.code : 'INTERNAL';
    reply.log.error({ err }, 'generation failed after the stream started');
    const http = toHttpError(forRequest(err, plan.promptParam));
    sse.fail(plan.streamError ? plan.streamError(http) : http.body);
    return;
  }
  finish(result, tracked, deps, outcome);
  for (const event of plan.closing(result)) await sse.send(event);
  sse.done();
}

/**
 * Reads the generation's chunks (passing each to `onChunk`), timing them for the latency
 * histograms and counting tokens live, then returns the final result.
 */
async function consume(
  generation: ServedGeneration,
  deps: CompletionDeps,
  outcome: RequestOutcome,
  onChunk: (chunk: GenerationChunk) => unknown,
): Promise<GenerationResult> {
  const { metrics } = deps;
  let lastTokenAt: number | undefined;
  // An aborted generation is not an error: it settles its result with finish_reason 'abort'.
  for await (const chunk of generation) {
    const n = chunk.tokens.length;
    if (n > 0) {
      const now = performance.now();
      // Measured here, not taken from the engine's timings, so time spent waiting behind
      // other requests counts: that is what the client waits.
      if (lastTokenAt === undefined) {
        outcome.timeToFirstTokenMs = Math.round(now - outcome.submittedAt);
        metrics.timeToFirstToken.observe((now - outcome.submittedAt) / 1000);
      } else {
        // Several tokens arrive per chunk when JS is behind: spread the gap evenly.
        const perToken = (now - lastTokenAt) / 1000 / n;
        for (let i = 0; i < n; i++) metrics.interTokenLatency.observe(perToken);
      }
      lastTokenAt = now;
      outcome.completionTokens += n;
      metrics.completionTokens.inc(n);
    }
    await onChunk(chunk);
  }
  return generation.result;
}

/** Records a settled generation in the metrics and the request's outcome. */
function finish(result: GenerationResult, tracked: TrackedGeneration, deps: CompletionDeps, outcome: RequestOutcome): void {
  deps.metrics.recordResult(result, outcome.completionTokens);
  if (tracked.abortReason) deps.metrics.cancelled.inc({ reason: tracked.abortReason });
  Object.assign(outcome, {
    promptTokens: result.usage.promptTokens,
    completionTokens: result.usage.completionTokens,
    cachedTokens: result.usage.cachedTokens,
    finishReason: result.finishReason,
    abortReason: tracked.abortReason,
    decodeTokensPerSecond: Math.round(result.timings.decodeTokensPerSecond * 10) / 10,
  });
}
