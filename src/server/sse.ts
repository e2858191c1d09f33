/**
 * Server-sent events on a raw response. Chat and text completions use OpenAI's chunk framing:
 * `data: {json}` per chunk, `data: [DONE]` at the end. The Responses and Anthropic Messages
 * APIs use typed framing: each event's `type` field is also its `event:` line, and the stream
 * just ends. Either way a failed generation ends the stream with an `error` event.
 */
import type { FastifyReply } from 'fastify';

/** 'chunks': OpenAI chat/completions; 'typed': `event: <type>` lines, no `[DONE]`. */
export type SseFraming = 'chunks' | 'typed';

/**
 * Writes one SSE stream. Opening takes over the reply from fastify, copying the headers
 * hooks have set (CORS) onto the raw response. Writes after the client left are dropped.
 *
 * @example
 * const sse = SseStream.open(reply);
 * await sse.send({ id: 'chatcmpl-1', choices: [] });
 * sse.done();
 */
export class SseStream {
  readonly #res: FastifyReply['raw'];
  readonly #framing: SseFraming;

  private constructor(res: FastifyReply['raw'], framing: SseFraming) {
    this.#res = res;
    this.#framing = framing;
  }

  /** Sends the 200 and the event-stream headers. */
  static open(reply: FastifyReply, framing: SseFraming = 'chunks'): SseStream {
    reply.hijack();
    const res = reply.raw;
    const headers: Record<string, string | string[] | number> = {};
    for (const [name, value] of Object.entries(reply.getHeaders())) {
      if (value !== undefined) headers[name] = value;
    }
    res.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      // Proxies such as nginx would otherwise buffer the whole stream.
      'x-accel-buffering': 'no',
    });
    // Send the headers now so the client sees the stream start during prefill.
    res.flushHeaders();
    return new SseStream(res, framing);
  }

  /** True once the client is gone; nothing more is written. */
  get closed(): boolean {
    return this.#res.destroyed || this.#res.writableEnded;
  }

  /** Sends one data event; resolves when the socket can take more (backpressure). */
  async send(data: unknown): Promise<void> {
    if (this.closed) return;
    const type = (data as { type?: unknown }).type;
    const name = this.#framing === 'typed' && typeof type === 'string' ? `event: ${type}\n` : '';
    if (!this.#res.write(`${name}data: ${JSON.stringify(data)}\n\n`)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#res.off('drain', done);
          this.#res.off('close', done);
          resolve();
        };
        this.#res.on('drain', done);
        this.#res.on('close', done);
      });
    }
  }

  /** Ends the stream normally. */
  done(): void {
    if (this.closed) return;
    if (this.#framing === 'chunks') this.#res.end('data: [DONE]\n\n');
    else this.#res.end();
  }

  /** Ends the stream with an `error` event carrying `body` (the API's error shape), without `[DONE]`. */
  fail(body: unknown): void {
    if (this.closed) return;
    this.#res.end(`event: error\ndata: ${JSON.stringify(body)}\n\n`);
  }
}
