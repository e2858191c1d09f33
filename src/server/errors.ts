/**
 * OpenAI-shaped errors: `{"error": {"message", "type", "param", "code"}}` with the matching
 * HTTP status, and the mapping from zod, fastify and engine errors to them.
 */
import { STATUS_CODES } from 'node:http';
import type { z } from 'zod';
import { MlxNativeError } from '../errors.js';

/** The `error` object of an OpenAI error response. */
export interface OpenAIErrorBody {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

const TYPE_BY_STATUS: Record<number, string> = {
  401: 'authentication_error',
  429: 'rate_limit_error',
  500: 'server_error',
  503: 'service_unavailable_error',
};

/**
 * An error the server answers with. `type` follows from the status unless given.
 *
 * @example
 * throw new ApiError(400, "'n' must be 1", { param: 'n', code: 'unsupported_value' });
 */
export class ApiError extends Error {
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  readonly code: string | null;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    message: string,
    opts: { type?: string; param?: string | null; code?: string | null; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.type = opts.type ?? TYPE_BY_STATUS[status] ?? 'invalid_request_error';
    this.param = opts.param ?? null;
    this.code = opts.code ?? null;
    this.headers = opts.headers ?? {};
  }

  /** The response body. */
  body(): { error: OpenAIErrorBody } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** A 400 naming the offending field. */
export function invalidParam(param: string | null, message: string, code = 'invalid_value'): ApiError {
  return new ApiError(400, message, { param, code });
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
export function fromZodError(error: z.ZodError): ApiError {
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

/** Maps an engine error; `param` is the request field that carried the prompt. */
export function fromEngineError(err: MlxNativeError, param: string): ApiError {
  switch (err.code) {
    case 'CONTEXT_OVERFLOW':
      return invalidParam(param, err.message, 'context_length_exceeded');
    case 'EMPTY_PROMPT':
      return invalidParam(param, err.message, 'empty_prompt');
    case 'CHAT_TEMPLATE_ERROR':
      return invalidParam('messages', err.message, 'chat_template_error');
    case 'INVALID_ARGUMENT':
      return invalidParam(null, err.message, 'invalid_value');
    case 'DISPOSED':
      return new ApiError(503, 'the model is shutting down', { code: 'server_shutting_down' });
    default:
      return new ApiError(500, `${err.code}: ${err.message}`, { code: 'engine_error' });
  }
}

/** fastify's own errors (body parsing, limits) by their code. */
const FASTIFY_ERRORS: Record<string, (err: Error) => ApiError> = {
  FST_ERR_CTP_BODY_TOO_LARGE: () =>
    new ApiError(413, 'Request body is too large', { code: 'request_too_large' }),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () =>
    new ApiError(415, "Unsupported Content-Type: send 'application/json'", { code: 'unsupported_media_type' }),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => invalidParam(null, 'Request body is empty: expected a JSON object', 'invalid_json'),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () =>
    invalidParam(null, 'Content-Length does not match the body', 'invalid_body'),
};

/**
 * Any thrown value as an ApiError. Unknown errors become a generic 500 so internals do not
 * leak; the caller logs the original.
 */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof MlxNativeError) return fromEngineError(err, 'prompt');
  const e = err as { code?: string; statusCode?: number; message?: string };
  const mapped = e.code ? FASTIFY_ERRORS[e.code] : undefined;
  if (mapped) return mapped(err as Error);
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new ApiError(e.statusCode, e.message ?? 'Bad request', { code: 'invalid_request' });
  }
  return new ApiError(500, 'Internal server error', { code: 'internal_error' });
}

/**
 * The raw HTTP response for a request Node rejected before any route saw it (too slow,
 * malformed, headers too large), in the same error shape as everything else.
 */
export function clientErrorResponse(err: { code?: string }): string {
  const [status, code, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'request_timeout', 'The request was not received in time']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'headers_too_large', 'Request headers are too large']
        : [400, 'bad_request', 'Malformed HTTP request'];
  const body = JSON.stringify(new ApiError(status, message, { code }).body());
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}
