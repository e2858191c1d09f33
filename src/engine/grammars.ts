/**
 * A model's compiled grammars. The vocabulary goes to the engine once, on the first constrained
 * request; grammars are compiled on the calling thread (so one the engine cannot handle is refused
 * before any work) and the most recent ones are kept, since agents send the same tools and
 * schemas again and again.
 */
import { MlxNativeError } from '../errors.js';
import type { NativeEngine, NativeGrammar } from '../native.js';
import type { GrammarSpec } from './chat-request.js';
import { tokenBytes } from './token-bytes.js';
import type { Tokenizer } from './tokenizer.js';

const KEEP = 32;

export class GrammarCache {
  #vocabSent = false;
  #compiled = new Map<string, NativeGrammar>();

  constructor(
    private readonly native: () => NativeEngine,
    private readonly tokenizer: Tokenizer,
    private readonly vocabSize: number,
  ) {}

  /** Sends the vocabulary to the engine if it has not had it yet (reasoning budgets need it too). */
  ensureVocab(): void {
    if (this.#vocabSent) return;
    const { bytes, offsets } = tokenBytes(this.tokenizer, this.vocabSize);
    const eos = this.tokenizer.eosTokenIds.filter((t) => t < this.vocabSize);
    this.native().setGrammarVocab(bytes, offsets, Int32Array.from(eos));
    this.#vocabSent = true;
  }

  /** The compiled grammar; throws INVALID_ARGUMENT naming `spec.param` when it does not compile. */
  compile(spec: GrammarSpec): NativeGrammar {
    this.ensureVocab();
    const key = `${spec.kind}\0${spec.text}`;
    const hit = this.#compiled.get(key);
    if (hit) {
      this.#compiled.delete(key);
      this.#compiled.set(key, hit);
      return hit;
    }
    let grammar: NativeGrammar;
    try {
      grammar = this.native().compileGrammar(spec.kind, spec.text);
    } catch (err) {
      const message = (err as Error).message.replace(/^\[grammar\]\s*/, '');
      throw new MlxNativeError('INVALID_ARGUMENT', `${spec.param}: the grammar engine cannot use it: ${message}`, {
        param: spec.param,
        cause: err,
      });
    }
    this.#compiled.set(key, grammar);
    if (this.#compiled.size > KEEP) this.#compiled.delete(this.#compiled.keys().next().value!);
    return grammar;
  }
}
