/**
 * OpenAI-shaped errors, `{"error": {"message", "type", "param", "code"}}`, with their HTTP status,
 * and the same errors in Anthropic's shape for its Messages routes. Everything the server throws
 * is an MlxNativeError; {@link HTTP_BY_CODE} is the one table that maps its code to a status.
 * zod and fastify errors are turned into MlxNativeErrors first.
 */
import { STATUS_CODES } from 'node:http';
import type { z } from 'zod';
import { MlxNativeError, type ErrorCode } from '../errors.js';

/** The `error` object of an OpenAI error response. */
export interface OpenAIErrorBody {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

/** How an error code is answered: status, OpenAI `code` (unless the error has a reason), headers. */
interface HttpMapping {
  status: number;
  reason: string;
  headers?: Record<string, string>;
}

const engineFailure: HttpMapping = { status: 500, reason: 'engine_error' };

/** Every error code's HTTP answer. */
export const HTTP_BY_CODE: Record<ErrorCode, HttpMapping> = {
  INVALID_ARGUMENT: { status: 400, reason: 'invalid_value' },
  EMPTY_PROMPT: { status: 400, reason: 'empty_prompt' },
  CONTEXT_OVERFLOW: { status: 400, reason: 'context_length_exceeded' },
  CHAT_TEMPLATE_ERROR: { status: 400, reason: 'chat_template_error' },
  UNAUTHORIZED: { status: 401, reason: 'invalid_api_key', headers: { 'www-authenticate': 'Bearer' } },
  NOT_FOUND: { status: 404, reason: 'not_found' },
  MODEL_NOT_FOUND: { status: 404, reason: 'model_not_found' },
  REQUEST_TIMEOUT: { status: 408, reason: 'request_timeout' },
  REQUEST_TOO_LARGE: { status: 413, reason: 'request_too_large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, reason: 'unsupported_media_type' },
  QUEUE_FULL: { status: 429, reason: 'queue_full', headers: { 'retry-after': '1' } },
  HEADERS_TOO_LARGE: { status: 431, reason: 'headers_too_large' },
  UNAVAILABLE: { status: 503, reason: 'service_unavailable', headers: { 'retry-after': '5' } },
  DISPOSED: { status: 503, reason: 'server_shutting_down' },
  // Failures of the engine or the model while serving; a request cannot cause them.
  INVALID_MODEL: engineFailure,
  UNSUPPORTED_ARCHITECTURE: engineFailure,
  UNSUPPORTED_QUANTIZATION: engineFailure,
  UNSUPPORTED_TOKENIZER: engineFailure,
  OUT_OF_MEMORY: engineFailure,
  // A model that cannot fit in the memory budget even with every other model unloaded.
  INSUFFICIENT_MEMORY: { status: 507, reason: 'insufficient_memory' },
  NATIVE_LOAD_FAILED: engineFailure,
  MLX_ERROR: engineFailure,
  INTERNAL: { status: 500, reason: 'internal_error' },
};

const TYPE_BY_STATUS: Record<number, string> = {
  401: 'authentication_error',
  429: 'rate_limit_error',
  500: 'server_error',
  503: 'service_unavailable_error',
  507: 'server_error',
};

/** An error as the server answers it. */
export interface HttpError {
  status: number;
  headers: Record<string, string>;
  body: { error: OpenAIErrorBody };
}

/** A 400 naming the offending field. */
export function invalidParam(param: string | null, message: string, reason = 'invalid_value'): MlxNativeError {
  return new MlxNativeError('INVALID_ARGUMENT', message, { param: param ?? undefined, reason });
}

/** Formats a zod path like OpenAI does: `messages[0].content`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

/** The first zod issue as a 400 that names its field. */
export function fromZodError(error: z.ZodError): MlxNativeError {
  const issue = error.issues[0];
  // A union reports one issue list per branch; the branch that got deepest into the value is
  // the one the client meant, and its issue names the real field.
  let deepest: z.core.$ZodIssue | undefined;
  if (issue.code === 'invalid_union') {
    for (const branch of issue.errors) {
      if (branch[0] && branch[0].path.length > (deepest?.path.length ?? 0)) deepest = branch[0];
    }
  }
  const path = deepest ? [...issue.path, ...deepest.path] : issue.path;
  const message = deepest?.message ?? issue.message;
  const param = path.length ? formatPath(path) : null;
  return invalidParam(param, param ? `Invalid value for '${param}': ${message}` : `Invalid request body: ${message}`);
}

/** fastify's own errors (body parsing, limits) by their code. */
const FASTIFY_ERRORS: Record<string, () => MlxNativeError> = {
  FST_ERR_CTP_BODY_TOO_LARGE: () => new MlxNativeError('REQUEST_TOO_LARGE', 'Request body is too large'),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () =>
    new MlxNativeError('UNSUPPORTED_MEDIA_TYPE', "Unsupported Content-Type: send 'application/json'"),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => invalidParam(null, 'Request body is empty: expected a JSON object', 'invalid_json'),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => invalidParam(null, 'Content-Length does not match the body', 'invalid_body'),
};

/**
 * Any thrown value as an MlxNativeError. Unknown errors become INTERNAL with a generic message
 * so internals do not leak; the caller logs the original.
 */
export function toMlxNativeError(err: unknown): MlxNativeError {
  if (err instanceof MlxNativeError) return err;
  const e = err as { code?: string; statusCode?: number; message?: string } | null;
  const mapped = e?.code ? FASTIFY_ERRORS[e.code] : undefined;
  if (mapped) return mapped();
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return invalidParam(null, e.message ?? 'Bad request', 'invalid_request');
  }
  return new MlxNativeError('INTERNAL', 'Internal server error');
}

/** The body field that carries a request's prompt: chat and Messages, completions, Responses and embeddings. */
export type PromptParam = 'messages' | 'prompt' | 'input';

/**
 * An error of the engine as the request saw it: errors about the prompt name the body field
 * that carried it (`messages` or `prompt`); the engine's own option names mean nothing to an
 * HTTP client, so other engine errors name no field.
 */
export function forRequest(err: unknown, promptParam: PromptParam): unknown {
  if (!(err instanceof MlxNativeError)) return err;
  const aboutPrompt = err.code === 'CONTEXT_OVERFLOW' || err.code === 'EMPTY_PROMPT' || err.code === 'CHAT_TEMPLATE_ERROR';
  if (!aboutPrompt || err.param !== undefined) return err;
  const param = err.code === 'CHAT_TEMPLATE_ERROR' && promptParam === 'prompt' ? 'messages' : promptParam;
  const copy = new MlxNativeError(err.code, err.message, { param, reason: err.reason, cause: err.cause });
  copy.stack = err.stack;
  return copy;
}

/**
 * The HTTP answer for any thrown value.
 *
 * @example
 * const { status, headers, body } = toHttpError(err);
 */
export function toHttpError(err: unknown): HttpError {
  const e = toMlxNativeError(err);
  const mapping = HTTP_BY_CODE[e.code] ?? HTTP_BY_CODE.INTERNAL;
  const param = e.param ?? null;
  // Engine failures name their code: the client cannot fix them, the operator can.
  const message = mapping.status >= 500 && e.code !== 'UNAVAILABLE' && e.code !== 'DISPOSED' && e.code !== 'INTERNAL'
    ? `${e.code}: ${e.message}`
    : e.message;
  const type = TYPE_BY_STATUS[mapping.status] ?? 'invalid_request_error';
  return {
    status: mapping.status,
    headers: mapping.headers ?? {},
    body: { error: { message, type, param, code: e.reason ?? mapping.reason } },
  };
}

/** Anthropic's error `type` by HTTP status; other 4xx are `invalid_request_error`. */
const ANTHROPIC_TYPE_BY_STATUS: Record<number, string> = {
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  503: 'overloaded_error',
  504: 'timeout_error',
};

/** An error in Anthropic's shape: `{"type": "error", "error": {"type", "message"}}`. */
export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
}

/**
 * An HTTP error's body in Anthropic's shape (same status and headers).
 *
 * @example
 * anthropicError(toHttpError(err)) // { type: 'error', error: { type: 'invalid_request_error', message: … } }
 */
export function anthropicError(http: HttpError): AnthropicErrorBody {
  const type = ANTHROPIC_TYPE_BY_STATUS[http.status] ?? (http.status < 500 ? 'invalid_request_error' : 'api_error');
  return { type: 'error', error: { type, message: http.body.error.message } };
}

/**
 * The raw HTTP response for a request Node rejected before any route saw it (too slow,
 * malformed, headers too large), in the same error shape as everything else.
 */
export function clientErrorResponse(err: { code?: string }): string {
  const error =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? new MlxNativeError('REQUEST_TIMEOUT', 'The request was not received in time')
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? new MlxNativeError('HEADERS_TOO_LARGE', 'Request headers are too large')
        : invalidParam(null, 'Malformed HTTP request', 'bad_request');
  const { status, body } = toHttpError(error);
  const text = JSON.stringify(body);
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`
  );
}
