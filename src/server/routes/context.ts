/** What every route gets from the app, and the checks the API routes share. */
import type { z } from 'zod';
import { MlxNativeError } from '../../errors.js';
import { fromZodError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { ReasoningMode, ToolCallFormat } from '../../engine/types.js';
import type { ServedModel, ServerState } from '../state.js';

/** Route options that come from the server configuration. */
export interface RouteOptions {
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
      return new MlxNativeError('UNAVAILABLE', 'The model is still loading; retry shortly', { reason: 'model_loading' });
    case 'failed':
      return new MlxNativeError('UNAVAILABLE', `The model failed to load: ${state.failure ?? 'unknown error'}`, {
        reason: 'model_load_failed',
      });
    case 'draining':
      return new MlxNativeError('UNAVAILABLE', 'The server is shutting down', { reason: 'server_shutting_down' });
  }
}

/** The loaded model, or the 503 to answer with. */
export function readyModel(state: ServerState): ServedModel {
  const err = notReadyError(state);
  if (err) throw err;
  return state.model!;
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
 * The model a request's `model` field names (the default when absent), ready to generate;
 * throws the 404 or 503 to answer with. Every API route gets its model here, so serving
 * several models changes only this function and the state behind it.
 */
export async function modelFor(ctx: RouteContext, requested: string | null | undefined): Promise<RoutedModel> {
  checkModelName(requested, ctx.options);
  return { model: readyModel(ctx.state), name: ctx.options.servedModelName };
}

/** 404 for a model name this server does not serve (unless --accept-any-model). */
export function checkModelName(requested: string | null | undefined, options: RouteOptions): void {
  if (requested == null || options.acceptAnyModel || requested === options.servedModelName) return;
  throw new MlxNativeError('MODEL_NOT_FOUND', `The model '${requested}' does not exist; this server serves '${options.servedModelName}'`, {
    param: 'model',
  });
}
