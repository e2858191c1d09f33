/** Error codes mlx-native uses; `error.code` is always one of these. */
export type ErrorCode =
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
  | 'ABORTED'
  | 'DISPOSED'
  | 'NATIVE_LOAD_FAILED'
  | 'MLX_ERROR'
  | 'INTERNAL';

/**
 * The error class of mlx-native. Native failures arrive with the stack of the JS call that
 * started the work, so the user sees their own call site.
 */
export class MlxNativeError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MlxNativeError';
    this.code = code;
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
