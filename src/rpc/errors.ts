/** Maps any error a method throws to a JSON-RPC error object. */
import { MlxNativeError } from '../errors.js';
import { RpcErrorCode, RpcFailure, type JsonRpcErrorObject } from './protocol.js';

const snake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The params field an engine INVALID_ARGUMENT message is about ("topP must be …" → top_p). */
function fieldOf(message: string): string {
  const named = /^([a-zA-Z]+)(\[[^\]]*\])? (must|key)/.exec(message);
  if (named) return snake(named[1]);
  if (/token id .* outside the vocabulary/.test(message)) return 'prompt';
  return '';
}

/**
 * RpcFailure as is; the engine's INVALID_ARGUMENT as -32602 (field named); every other engine
 * error as -32000 with `data.code` (CONTEXT_OVERFLOW, MODEL_NOT_FOUND, …); anything else -32603.
 */
export function toErrorObject(err: unknown): JsonRpcErrorObject {
  if (err instanceof RpcFailure) return err.toJSON();
  if (err instanceof MlxNativeError) {
    if (err.code === 'INVALID_ARGUMENT') {
      // The engine names the option (`param`, camelCase path) when it knows it.
      const field = err.param ? err.param.split('.').map(snake).join('.') : fieldOf(err.message);
      return {
        code: RpcErrorCode.INVALID_PARAMS,
        message: `Invalid params: ${field ? `${field}: ` : ''}${err.message}`,
        data: { code: err.code, field },
      };
    }
    return { code: RpcErrorCode.APPLICATION_ERROR, message: err.message, data: { code: err.code } };
  }
  const e = err as { message?: string; code?: unknown };
  return {
    code: RpcErrorCode.INTERNAL_ERROR,
    message: `Internal error: ${e?.message ?? String(err)}`,
    data: { code: 'INTERNAL' },
  };
}
