/**
 * Incremental detokenization for streaming generation.
 *
 * Decoding token by token is wrong in two ways: a UTF-8 character can span several byte-level
 * tokens (each alone decodes to U+FFFD), and SentencePiece-style decoders drop the leading
 * space of the first token of a sequence. So we keep a small window: `prefix` (tokens already
 * emitted, kept only as context) + `pending` (tokens not yet emitted), decode both, and emit the
 * difference once it does not end in U+FFFD. The window is cut after each emission, so each
 * step decodes a handful of tokens regardless of the sequence length.
 */

/** The decode function a {@link StreamDecoder} needs (Tokenizer satisfies it). */
export interface Detokenizer {
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
}

/** Options of {@link StreamDecoder}. */
export interface StreamDecoderOptions {
  /** Drop special tokens from the text (as `decode(ids, { skipSpecialTokens })`). Default false. */
  skipSpecialTokens?: boolean;
}

const REPLACEMENT = '\uFFFD';
/**
 * A valid character is at most 4 bytes, i.e. at most 4 byte tokens; past this many pending
 * tokens a trailing U+FFFD is genuinely invalid output (or runs of empty tokens) and is emitted
 * rather than held forever.
 */
const MAX_PENDING = 16;

/**
 * Turns a stream of token ids into text deltas. The concatenation of all deltas (including
 * {@link StreamDecoder.flush}) equals `tokenizer.decode(allIds)`, and no delta ends inside a
 * multi-byte character.
 */
export class StreamDecoder {
  private window: number[] = [];
  /** Number of tokens at the start of `window` that were already emitted (context only). */
  private prefixLen = 0;
  /** decode(window[0:prefixLen]), cached until the window moves. */
  private prefixText = '';
  private count = 0;

  constructor(
    private readonly tokenizer: Detokenizer,
    private readonly options: StreamDecoderOptions = {},
  ) {}

  /** Number of tokens pushed so far. */
  get tokenCount(): number {
    return this.count;
  }

  /** Adds one or more token ids; returns the text that became final (possibly ''). */
  push(ids: number | readonly number[]): string {
    if (typeof ids === 'number') this.window.push(ids);
    else for (const id of ids) this.window.push(id);
    this.count += typeof ids === 'number' ? 1 : ids.length;
    return this.step(false);
  }

  /** Returns whatever is still held back (e.g. an incomplete character at the end) and resets. */
  flush(): string {
    const out = this.step(true);
    this.window = [];
    this.prefixLen = 0;
    this.prefixText = '';
    return out;
  }

  private step(force: boolean): string {
    if (this.window.length === this.prefixLen) return '';
    const text = this.tokenizer.decode(this.window, { skipSpecialTokens: this.options.skipSpecialTokens });
    const forced = force || this.window.length - this.prefixLen > MAX_PENDING;
    const clean = text.length > this.prefixText.length && !text.endsWith(REPLACEMENT) && text.startsWith(this.prefixText);
    if (!clean && !forced) return '';
    // startsWith only fails for exotic decoders; then the best we can do is emit the new tail.
    const delta = text.startsWith(this.prefixText) ? text.slice(this.prefixText.length) : text.slice(Math.min(this.prefixText.length, text.length));
    // The pending tokens become the next prefix; older tokens are dropped.
    this.window = this.window.slice(this.prefixLen);
    this.prefixLen = this.window.length;
    this.prefixText = this.tokenizer.decode(this.window, { skipSpecialTokens: this.options.skipSpecialTokens });
    return delta;
  }
}
