/**
 * The one error class of mlx-native. Everything src/ throws is an MlxNativeError whose `code` is
 * one of {@link ErrorCode}; the server turns codes into HTTP statuses in one table
 * (src/server/errors.ts).
 */

/** Error codes mlx-native uses; `error.code` is always one of these. */
export type ErrorCode =
  // The library: arguments, models, generation.
  | 'INVALID_ARGUMENT'
  | 'MODEL_NOT_FOUND'
  | 'INVALID_MODEL'
  | 'UNSUPPORTED_ARCHITECTURE'
  | 'UNSUPPORTED_QUANTIZATION'
  | 'UNSUPPORTED_TOKENIZER'
  | 'CHAT_TEMPLATE_ERROR'
  | 'CONTEXT_OVERFLOW'
  | 'EMPTY_PROMPT'
  | 'OUT_OF_MEMORY'
  | 'INSUFFICIENT_MEMORY'
  | 'DISPOSED'
  | 'NATIVE_LOAD_FAILED'
  | 'MLX_ERROR'
  | 'INTERNAL'
  // The server: what a request can run into besides the engine.
  | 'UNAUTHORIZED'
  | 'NOT_FOUND'
  | 'QUEUE_FULL'
  | 'UNAVAILABLE'
  | 'REQUEST_TIMEOUT'
  | 'REQUEST_TOO_LARGE'
  | 'HEADERS_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE';

/** Optional details of an {@link MlxNativeError}. */
export interface ErrorDetails {
  cause?: unknown;
  /** The argument, option or request field at fault (`maxTokens`, `messages[0].role`). */
  param?: string;
  /** A finer snake_case reason within the code (`queue_full`, `invalid_json`); the server sends it as OpenAI's `code`. */
  reason?: string;
}

/**
 * The error class of mlx-native. Native failures arrive with the stack of the JS call that
 * started the work, so the user sees their own call site. Aborting a generation is not an error:
 * its result settles with `finishReason: 'abort'`.
 *
 * @example
 * throw new MlxNativeError('INVALID_ARGUMENT', 'maxTokens must be at least 1', { param: 'maxTokens' });
 */
export class MlxNativeError extends Error {
  readonly code: ErrorCode;
  readonly param?: string;
  readonly reason?: string;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'MlxNativeError';
    this.code = code;
    if (details.param !== undefined) this.param = details.param;
    if (details.reason !== undefined) this.reason = details.reason;
  }
}

/** Captures the caller's stack now; `graft` later builds the error with that stack. */
export function captureCallSite(): { graft(code: string, message: string): MlxNativeError } {
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, captureCallSite);
  return {
    graft(code, message) {
      const err = new MlxNativeError(code as ErrorCode, message);
      const frames = holder.stack?.split('\n').slice(1).join('\n') ?? '';
      err.stack = `${err.name} [${code}]: ${message}\n${frames}`;
      return err;
    },
  };
}
