/**
 * The Responses API's memory: finished responses by id, with the conversation that led to each
 * (so `previous_response_id` can continue it) and the response object (for GET). Bounded by
 * entry count and by total conversation text; the oldest entries go first.
 */
import type { ChatMessage } from '../engine/types.js';

export interface StoredResponse {
  /** The conversation so far: earlier turns, this request's input, and the reply (no instructions). */
  messages: ChatMessage[];
  /** The response object as it was answered. */
  response: unknown;
}

export interface ResponseStoreLimits {
  maxEntries: number;
  /** Characters of conversation text kept over all entries. */
  maxChars: number;
}

const size = (entry: StoredResponse) => entry.messages.reduce((n, m) => n + m.content.length, 0);

/**
 * An in-memory, bounded store of responses.
 *
 * @example
 * const store = new ResponseStore({ maxEntries: 512, maxChars: 16 << 20 });
 * store.put('resp_1', { messages, response });
 * store.get('resp_1')?.messages;
 */
export class ResponseStore {
  readonly #entries = new Map<string, StoredResponse>();
  readonly #limits: ResponseStoreLimits;
  #chars = 0;

  constructor(limits: ResponseStoreLimits = { maxEntries: 512, maxChars: 16 << 20 }) {
    this.#limits = limits;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(id: string): StoredResponse | undefined {
    return this.#entries.get(id);
  }

  /** Adds an entry, dropping the oldest ones past the limits (an entry over the text limit alone is not kept). */
  put(id: string, entry: StoredResponse): void {
    const chars = size(entry);
    if (chars > this.#limits.maxChars) return;
    this.delete(id);
    this.#entries.set(id, entry);
    this.#chars += chars;
    for (const [oldest, e] of this.#entries) {
      if (this.#entries.size <= this.#limits.maxEntries && this.#chars <= this.#limits.maxChars) break;
      this.#entries.delete(oldest);
      this.#chars -= size(e);
    }
  }

  delete(id: string): boolean {
    const e = this.#entries.get(id);
    if (!e) return false;
    this.#entries.delete(id);
    this.#chars -= size(e);
    return true;
  }
}
