/**
 * Constrained decoding inside the batch: decode throughput of a batch of streams with half the
 * rows under a JSON-schema grammar against the same batch with none, and the host time each
 * grammar mask takes. The grammar is one that cannot finish within the run (a long array of
 * integers), so constrained and free rows generate the same number of tokens.
 */
import { loadModel, type Model } from '../engine/model.js';
import type { GenerationResult } from '../engine/types.js';

export interface ConstrainedBenchOptions {
  model: string;
  streams?: number;
  tokens?: number;
  rounds?: number;
  log?: (message: string) => void;
}

export interface ConstrainedBenchResult {
  streams: number;
  tokensPerStream: number;
  /** Aggregate decode tokens per second, median over rounds. */
  noneConstrained: number;
  halfConstrained: number;
  /** halfConstrained / noneConstrained. */
  ratio: number;
  /** Host milliseconds per grammar mask (per constrained token). */
  maskMsPerToken: number;
}

const LONG_ARRAY = { type: 'array', items: { type: 'integer', minimum: 0, maximum: 999 }, minItems: 4096 };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function batch(model: Model, streams: number, tokens: number, constrained: number): Promise<number> {
  const runs: Promise<GenerationResult>[] = [];
  for (let i = 0; i < streams; i++) {
    const grammar = i < constrained;
    runs.push(
      // Short prompts: the figure is decode, not prefill.
      model.generate(`Numbers ${i}:`, {
        maxTokens: tokens,
        temperature: 0,
        ignoreEos: !grammar,
        responseFormat: grammar ? { type: 'json_schema', schema: LONG_ARRAY } : undefined,
      }).result,
    );
  }
  const results = await Promise.all(runs);
  return results.reduce((sum, r) => sum + r.timings.decodeTokensPerSecond, 0);
}

/** Runs the comparison; rounds alternate the two batches so drift in machine load hits both. */
export async function runConstrainedBench(o: ConstrainedBenchOptions): Promise<ConstrainedBenchResult> {
  const streams = o.streams ?? 16;
  const tokens = o.tokens ?? 64;
  const rounds = o.rounds ?? 2;
  const log = o.log ?? (() => {});
  await using model = await loadModel(o.model, { maxBatch: streams });
  await batch(model, streams, 8, streams / 2); // warm-up: compiles the grammar, fills the caches
  const none: number[] = [];
  const half: number[] = [];
  const before = await model.counters();
  for (let r = 0; r < rounds; r++) {
    none.push(await batch(model, streams, tokens, 0));
    half.push(await batch(model, streams, tokens, streams / 2));
    log(`round ${r + 1}: none ${none.at(-1)!.toFixed(1)} tok/s, half constrained ${half.at(-1)!.toFixed(1)} tok/s`);
  }
  const after = await model.counters();
  const masks = after.grammarMasks - before.grammarMasks;
  const noneConstrained = median(none);
  const halfConstrained = median(half);
  return {
    streams,
    tokensPerStream: tokens,
    noneConstrained,
    halfConstrained,
    ratio: halfConstrained / noneConstrained,
    maskMsPerToken: masks > 0 ? (after.grammarMaskMs - before.grammarMaskMs) / masks : 0,
  };
}
