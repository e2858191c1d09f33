/**
 * Distinct benchmark prompts with exact token counts. Each prompt is a seeded sequence of common
 * words that are one token each (with their leading space), so N words are N tokens and the
 * same text gives the same ids in every tokenizer built from the model's files. Every prompt
 * starts with a different word, so neither our prefix cache nor mlx_lm.server's prompt cache can
 * reuse one prompt's KV for another.
 */
import { MlxNativeError } from '../errors.js';

/** What the factory needs from a tokenizer. */
export interface EncodesText {
  encode(text: string): number[];
}

/** One prompt, as text (for HTTP) and as ids (for in-process systems). */
export interface BenchPrompt {
  text: string;
  ids: number[];
}

// Plain English words; those that are not a single token in the model's vocabulary are dropped.
const WORDS = `the of and to in is was for on that with as by at from his her they this have
which one had not but were all she when there can been has more will would who their what
out about time them some could these into two than other then its like only over also after
many first new years most people may state world made where through back much before
year well great good little long under very found same while last might day work part
place each number right city three water both still life house through small between never
home land hand high old people every great music school country light story early world
night green river north south east west black white red blue gold king queen army book
field power table paper money market church game party garden bridge road train ship
island forest mountain village family friend child woman doctor teacher letter window
summer winter spring morning evening station office window street picture history
science nature animal horse bird tree flower stone glass fire wind rain snow cloud
sun moon star ocean sea lake valley desert farm bread apple coffee dinner kitchen door`
  .split(/\s+/)
  .filter((w) => w.length > 0);

/** Mulberry32: a small seeded PRNG, so the same seed gives the same prompts on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Makes distinct prompts of exact token lengths.
 * @example
 * const prompts = new PromptFactory(model.tokenizer);
 * const { text, ids } = prompts.make(128); // ids.length === 128
 */
export class PromptFactory {
  readonly #tokenizer: EncodesText;
  readonly #words: { text: string; id: number }[] = [];
  readonly #random: () => number;
  #count = 0;

  constructor(tokenizer: EncodesText, seed = 20250101) {
    this.#tokenizer = tokenizer;
    this.#random = seededRandom(seed);
    const seen = new Set<number>();
    for (const w of WORDS) {
      const ids = tokenizer.encode(` ${w}`);
      if (ids.length === 1 && !seen.has(ids[0])) {
        seen.add(ids[0]);
        this.#words.push({ text: ` ${w}`, id: ids[0] });
      }
    }
    if (this.#words.length < 32) {
      throw new MlxNativeError('INVALID_ARGUMENT', `the tokenizer has only ${this.#words.length} one-token bench words`);
    }
  }

  /** Number of usable words (distinct first tokens available before they repeat). */
  get vocabulary(): number {
    return this.#words.length;
  }

  /** A new prompt of exactly `tokens` tokens, different from every earlier one from the start. */
  make(tokens: number): BenchPrompt {
    const picked: { text: string; id: number }[] = [];
    // The first word walks the word list in order: distinct first tokens for the first
    // `vocabulary` prompts, and the seeded tail keeps later ones distinct too.
    picked.push(this.#words[this.#count++ % this.#words.length]);
    while (picked.length < tokens) picked.push(this.#words[Math.floor(this.#random() * this.#words.length)]);
    const text = picked.map((w) => w.text).join('');
    const ids = picked.map((w) => w.id);
    const check = this.#tokenizer.encode(text);
    if (check.length !== ids.length || check.some((id, i) => id !== ids[i])) {
      throw new MlxNativeError('INTERNAL', `bench prompt of ${tokens} words encodes to ${check.length} tokens`);
    }
    return { text, ids };
  }
}
