// The soak's client side: one HTTP exchange with the behaviours real clients have (streaming,
// leaving mid-stream, sending the body slowly, reading slowly, stalling), always on a fresh
// connection to 127.0.0.1 and always bounded in time.
import http from 'node:http';
import net from 'node:net';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Splits complete SSE blocks off `buffer`; returns [events, rest]. */
function takeEvents(buffer) {
  const blocks = buffer.split('\n\n');
  const rest = blocks.pop();
  const events = [];
  for (const block of blocks) {
    if (!block.trim()) continue;
    const ev = { event: undefined, data: '' };
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) ev.event = line.slice(7);
      else if (line.startsWith('data: ')) ev.data += line.slice(6);
    }
    events.push(ev);
  }
  return [events, rest];
}

/**
 * Runs one exchange. `spec`: { method, path, body | raw, headers, cancelAfterEvents,
 * bodyPieces: {count, delayMs}, readDelayMs, timeoutMs }. Resolves, never rejects, with
 * { status, headers, text, events, cancelled, error, ms, ttfbMs }.
 */
export function exchange(base, spec) {
  const started = performance.now();
  const payload = spec.raw ?? (spec.body === undefined ? undefined : Buffer.from(JSON.stringify(spec.body)));
  const headers = { 'content-type': 'application/json', ...spec.headers };
  if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload));
  return new Promise((resolve) => {
    const out = { status: 0, headers: {}, text: '', events: [], cancelled: false, error: undefined, ms: 0, ttfbMs: undefined };
    let done = false;
    const finish = (error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      out.error = error;
      out.ms = performance.now() - started;
      resolve(out);
    };
    const req = http.request(`${base}${spec.path}`, { method: spec.method ?? 'POST', headers, agent: false });
    const timer = setTimeout(() => {
      req.destroy();
      finish(`no complete answer within ${spec.timeoutMs} ms`);
    }, spec.timeoutMs ?? 120_000);
    req.on('error', (err) => finish(err.code ?? err.message));
    req.on('response', (res) => {
      out.status = res.statusCode;
      out.headers = res.headers;
      out.ttfbMs = performance.now() - started;
      const sse = String(res.headers['content-type'] ?? '').startsWith('text/event-stream');
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        out.text += d;
        if (sse) {
          const [events, rest] = takeEvents(buffer + d);
          buffer = rest;
          out.events.push(...events);
          if (spec.cancelAfterEvents !== undefined && out.events.length >= spec.cancelAfterEvents) {
            out.cancelled = true;
            req.destroy();
            finish(undefined);
            return;
          }
        }
        if (spec.readDelayMs) {
          res.pause();
          setTimeout(() => res.resume(), spec.readDelayMs);
        }
      });
      res.on('end', () => finish(undefined));
      res.on('error', (err) => finish(err.code ?? err.message));
      res.on('aborted', () => finish('response aborted'));
    });
    void (async () => {
      if (payload === undefined) return req.end();
      const pieces = spec.bodyPieces?.count ?? 1;
      const size = Math.ceil(payload.length / pieces);
      for (let i = 0; i < pieces && !done; i++) {
        req.write(payload.subarray(i * size, (i + 1) * size));
        if (i < pieces - 1) await sleep(spec.bodyPieces.delayMs);
      }
      if (!done) req.end();
    })();
  });
}

/**
 * A client that sends its headers and part of a body, then nothing: the server must answer 408
 * within --request-timeout and close. Resolves with { status, text, ms, error }.
 */
export function stall(base, path, timeoutMs) {
  const { hostname, port } = new URL(base);
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    let text = '';
    let settled = false;
    const finish = (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      const at = text.indexOf('\r\n\r\n');
      resolve({ status, text: at >= 0 ? text.slice(at + 4) : '', ms: performance.now() - started, error });
    };
    const timer = setTimeout(() => finish(`not cut off within ${timeoutMs} ms`), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (d) => (text += d));
    socket.on('close', () => finish(text ? undefined : 'closed without an answer'));
    socket.on('error', (err) => finish(err.code ?? err.message));
    socket.on('connect', () =>
      socket.write(`POST ${path} HTTP/1.1\r\nHost: soak\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"prompt":`),
    );
  });
}
