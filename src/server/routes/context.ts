/** What every route gets from the app, and the checks the API routes share. */
import type { z } from 'zod';
import { MlxNativeError } from '../../errors.js';
import { fromZodError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { ReasoningMode, ToolCallFormat } from '../../engine/types.js';
import type { ServedModel, ServerState } from '../state.js';

/** Route options that come from the server configuration. */
export interface RouteOptions {
  /** The default model's id. */
  servedModelName: string;
  acceptAnyModel: boolean;
  maxTokensDefault: number;
  /** --tool-call-format: forces the format instead of inferring it from the chat template. */
  toolCallFormat?: ToolCallFormat;
  /** --reasoning (default auto). */
  reasoning?: ReasoningMode;
}

/** Shared by all route plugins of one app. */
export interface RouteContext {
  state: ServerState;
  metrics: Metrics;
  options: RouteOptions;
  /** Seconds since the epoch when the app was built; the `created` of /v1/models. */
  startedAt: number;
}

/** The 503 for a server that cannot take work now, or undefined when it can. */
export function notReadyError(state: ServerState): MlxNativeError | undefined {
  switch (state.phase) {
    case 'ready':
      return undefined;
    case 'loading':
      return new MlxNativeError('UNAVAILABLE', 'The server is still loading its models; retry shortly', { reason: 'model_loading' });
    case 'failed':
      return new MlxNativeError('UNAVAILABLE', `The model failed to load: ${state.failure ?? 'unknown error'}`, {
        reason: 'model_load_failed',
      });
    case 'draining':
      return new MlxNativeError('UNAVAILABLE', 'The server is shutting down', { reason: 'server_shutting_down' });
  }
}

/** The default model when the server is ready and it is loaded, or the 503 to answer with. */
export function readyModel(state: ServerState): ServedModel {
  const err = notReadyError(state);
  if (err) throw err;
  const model = state.model;
  if (!model) throw new MlxNativeError('UNAVAILABLE', `The model '${state.pool.defaultName}' is not loaded`, { reason: 'model_not_loaded' });
  return model;
}

/** Validates a body with zod; the error names the first bad field. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw fromZodError(parsed.error);
  return parsed.data;
}

/** A model a request was routed to, and the name answers report for it. */
export interface RoutedModel {
  model: ServedModel;
  /** The name responses carry in `model`. */
  name: string;
}

/**
 * The model a request's `model` field names (a name or alias; the default model when absent,
 * and under --accept-any-model for unknown names), ready to generate. A model that is loading
 * is waited for; an unloaded one is loaded (unloading idle ones when the memory budget needs
 * room). Throws the 404 (unknown model, naming `model`), 503 (not ready, load failed) or 507
 * (can never fit the memory budget) to answer with. Every API route gets its model here.
 */
export async function modelFor(ctx: RouteContext, requested: string | null | undefined): Promise<RoutedModel> {
  const err = notReadyError(ctx.state);
  if (err) throw err;
  return ctx.state.pool.acquire(requested, ctx.options.acceptAnyModel);
}
