/**
 * The playground's side of the HTTP API: requests with the stored API key, the model list,
 * and a chat completion stream read as server-sent events.
 */

const KEY_STORAGE = 'mlx-native:apiKey';

/** The API answered 401: the page asks for a key and tries again. */
export class AuthError extends Error {}

/** Any other error answer, with the server's own message. */
export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

export const apiKey = {
  get: () => localStorage.getItem(KEY_STORAGE) ?? '',
  set: (key) => (key ? localStorage.setItem(KEY_STORAGE, key) : localStorage.removeItem(KEY_STORAGE)),
};

function headers(extra = {}) {
  const key = apiKey.get();
  return { ...extra, ...(key ? { authorization: `Bearer ${key}` } : {}) };
}

/** The message of an OpenAI-shaped error body, or the status line. */
async function errorOf(res) {
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    if (body?.error?.message) message = body.error.message;
  } catch {
    // not JSON: keep the status line
  }
  return res.status === 401 ? new AuthError(message) : new ApiError(message, res.status);
}

/** GET a JSON route of the API. */
export async function getJson(path, init = {}) {
  const res = await fetch(path, { ...init, headers: headers(init.headers) });
  if (!res.ok) throw await errorOf(res);
  return res.json();
}

/** The served models: `[{ id, state? }]` from /v1/models. */
export async function listModels() {
  const body = await getJson('/v1/models');
  return (body.data ?? []).map((m) => ({ id: String(m.id), state: m.state == null ? undefined : String(m.state) }));
}

/**
 * POSTs a streaming chat completion and calls `onEvent` with each parsed chunk. Resolves when
 * the stream ends with [DONE]; rejects with ApiError for an error answer or an `event: error`
 * inside the stream, and with the abort reason when `signal` aborts.
 */
export async function streamChat(body, { signal, onEvent }) {
  const res = await fetch('/v1/chat/completions', {
    method: 'POST',
    headers: headers({ 'content-type': 'application/json', accept: 'text/event-stream' }),
    body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
    signal,
  });
  if (!res.ok) throw await errorOf(res);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (parseEvent(block, onEvent) === 'done') return;
    }
  }
  throw new ApiError('The stream ended before [DONE]; the server may have stopped', 0);
}

/** One SSE block: returns 'done' at [DONE], throws for `event: error`. */
function parseEvent(block, onEvent) {
  let event = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  const text = data.join('\n');
  if (!text) return undefined;
  if (text === '[DONE]') return 'done';
  const parsed = JSON.parse(text);
  if (event === 'error' || parsed.error) throw new ApiError(parsed.error?.message ?? 'The server reported an error', 500);
  onEvent(parsed);
  return undefined;
}
