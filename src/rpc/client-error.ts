/** The error the RpcClient rejects with: a JSON-RPC error from the child, or a client-side one. */
import { RpcErrorCode, type JsonRpcErrorObject } from './protocol.js';

const PROTOCOL_NAMES: Record<number, string> = {
  [RpcErrorCode.PARSE_ERROR]: 'PARSE_ERROR',
  [RpcErrorCode.INVALID_REQUEST]: 'INVALID_REQUEST',
  [RpcErrorCode.METHOD_NOT_FOUND]: 'METHOD_NOT_FOUND',
  [RpcErrorCode.INVALID_PARAMS]: 'INVALID_PARAMS',
  [RpcErrorCode.INTERNAL_ERROR]: 'INTERNAL',
};

export class RpcError extends Error {
  /**
   * The engine's code (CONTEXT_OVERFLOW, MODEL_NOT_FOUND, …) or the RPC layer's (UNKNOWN_MODEL,
   * SHUTTING_DOWN, …) from `error.data.code`; for protocol errors without one, PARSE_ERROR,
   * INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS or INTERNAL; client-side: CHILD_EXITED
   * (the child died with this call in flight), TIMEOUT, ABORTED, CLOSED.
   */
  readonly code: string;
  /** The JSON-RPC error code (-32700 …), when the error came from the child. */
  readonly rpcCode: number | undefined;
  /** The params field a -32602 is about. */
  readonly field: string | undefined;
  readonly data: Record<string, unknown> | undefined;

  constructor(code: string, message: string, data?: Record<string, unknown>, rpcCode?: number) {
    super(message);
    this.name = 'RpcError';
    this.code = code;
    this.rpcCode = rpcCode;
    this.data = data;
    this.field = typeof data?.field === 'string' ? data.field : undefined;
  }
}

export function rpcErrorFrom(e: JsonRpcErrorObject): RpcError {
  // -32602 carries data.code INVALID_ARGUMENT (the engine's name for it); INVALID_PARAMS reads better.
  const code = (e.code === RpcErrorCode.INVALID_PARAMS ? undefined : e.data?.code) ?? PROTOCOL_NAMES[e.code] ?? 'INTERNAL';
  return new RpcError(code, e.message, e.data, e.code);
}
