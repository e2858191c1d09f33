/**
 * Rebuilds Hugging Face `tokenizer.json` / `tokenizer_config.json` objects from GGUF metadata.
 *
 * `tokenizer.ggml.model == "gpt2"` (byte-level BPE: GPT-2, SmolLM, StarCoder, Llama 3, Qwen2/3) is
 * built here; `"llama"` (SentencePiece) in gguf-spm.ts. GGUF keeps vocab, merges and token types but not the HF pre-tokenizer, so the
 * pre-tokenizer is chosen from `tokenizer.ggml.pre` (llama.cpp's name for the family) and written
 * the way the original HF tokenizer.json spells it, so Python `tokenizers` reproduces HF ids.
 */
import { MlxNativeError } from '../errors.js';
import type { GgufMetadata } from './gguf.js';
import { sentencePieceTokenizerFiles } from './gguf-spm.js';
import { specialIds, tokenizerFiles, type GgufTokenizerFiles, type JsonObject } from './gguf-vocab.js';

export type { GgufTokenizerFiles, JsonObject } from './gguf-vocab.js';

/** A tokenizer.json / tokenizer_config.json object (plain JSON). */

/** GGUF token types (llama.cpp `llama_token_type`). */
const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

/** The GPT-2 split regex, as HF's ByteLevel pre-tokenizer applies it. */
export const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const LLAMA3_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** OpenAI's o200k split (tiktoken's pattern; gpt-oss, Phi-4-mini), llama.cpp's "gpt-4o". */
const O200K_PATTERN = [
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
  '\\p{N}{1,3}',
  ' ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*',
  '\\s*[\\r\\n]+',
  '\\s+(?!\\S)',
  '\\s+',
].join('|');

interface PreTokenizerSpec {
  normalizer: JsonObject | null;
  preTokenizer: JsonObject;
  /** Llama 3's BPE skips merging words already in the vocab. */
  ignoreMerges: boolean;
}

const byteLevel = (useRegex: boolean, trimOffsets = true): JsonObject => ({
  type: 'ByteLevel', add_prefix_space: false, trim_offsets: trimOffsets, use_regex: useRegex,
});
const split = (regex: string): JsonObject => ({
  type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false,
});

/** HF pre-tokenization for each supported `tokenizer.ggml.pre` value (mirrors the HF originals). */
function preTokenizerFor(pre: string): PreTokenizerSpec | undefined {
  switch (pre) {
    case 'default':
    case 'gpt-2':
      return { normalizer: null, preTokenizer: byteLevel(true), ignoreMerges: false };
    case 'smollm':
    case 'starcoder':
    case 'refact':
      // StarCoder-family tokenizers split every digit on its own before the GPT-2 regex.
      return {
        normalizer: null,
        preTokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, byteLevel(true)] },
        ignoreMerges: false,
      };
    case 'llama-bpe':
    case 'llama3':
    case 'llama-v3':
      return {
        normalizer: null,
        preTokenizer: { type: 'Sequence', pretokenizers: [split(LLAMA3_PATTERN), byteLevel(false)] },
        ignoreMerges: true,
      };
    case 'gpt-4o':
      return {
        normalizer: null,
        preTokenizer: { type: 'Sequence', pretokenizers: [split(O200K_PATTERN), byteLevel(false)] },
        ignoreMerges: false,
      };
    case 'qwen2':
      return {
        normalizer: { type: 'NFC' },
        preTokenizer: { type: 'Sequence', pretokenizers: [split(QWEN2_PATTERN), byteLevel(false, false)] },
        ignoreMerges: false,
      };
    default:
      return undefined;
  }
}

function unsupported(message: string): MlxNativeError {
  return new MlxNativeError('UNSUPPORTED_TOKENIZER', `[tokenizer] ${message}`);
}

function invalid(message: string): MlxNativeError {
  return new MlxNativeError('INVALID_MODEL', `[tokenizer] ${message}`);
}


/**
 * Builds HF tokenizer files from GGUF metadata.
 * @throws Error code UNSUPPORTED_TOKENIZER for non-"gpt2" tokenizer models or unknown pre-tokenizers,
 *   INVALID_MODEL when the token arrays are missing or inconsistent.
 */
export function ggufToTokenizerFiles(meta: GgufMetadata): GgufTokenizerFiles {
  const { kv } = meta;
  const model = kv['tokenizer.ggml.model'];
  if (model === 'llama') return sentencePieceTokenizerFiles(meta);
  if (model !== 'gpt2') {
    throw unsupported(
      `GGUF tokenizer model "${String(model)}" is not supported (only "gpt2" byte-level BPE and "llama" SentencePiece); ` +
        'use a converted model directory with tokenizer.json instead',
    );
  }
  const pre = typeof kv['tokenizer.ggml.pre'] === 'string' ? kv['tokenizer.ggml.pre'] : 'default';
  const spec = preTokenizerFor(pre);
  if (!spec) throw unsupported(`GGUF pre-tokenizer "${pre}" is not supported (known: gpt-2, smollm, starcoder, refact, llama-bpe, qwen2, gpt-4o)`);

  const tokens = kv['tokenizer.ggml.tokens'];
  const merges = kv['tokenizer.ggml.merges'];
  const types = kv['tokenizer.ggml.token_type'];
  if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === 'string')) throw invalid('tokenizer.ggml.tokens missing or not strings');
  if (!Array.isArray(merges) || !merges.every((m) => typeof m === 'string')) throw invalid('tokenizer.ggml.merges missing or not strings');
  if (types !== undefined && (!Array.isArray(types) || types.length !== tokens.length)) throw invalid('tokenizer.ggml.token_type length differs from tokens');
  const typeOf = (i: number): number => (Array.isArray(types) ? Number(types[i]) : TOKEN_TYPE.NORMAL);

  // Null prototype: vocab keys are arbitrary strings ("__proto__" must stay a key).
  const vocab = Object.create(null) as Record<string, number>;
  const added: JsonObject[] = [];
  const decoderEntries: Record<string, JsonObject> = {};
  const specials: string[] = [];
  tokens.forEach((tok, id) => {
    const type = typeOf(id);
    // UNUSED rows are llama.cpp's "[PAD<n>]" fillers up to the embedding size; HF has no such tokens.
    if (type === TOKEN_TYPE.UNUSED) return;
    if (!(tok in vocab)) vocab[tok as string] = id;
    if (type === TOKEN_TYPE.CONTROL || type === TOKEN_TYPE.USER_DEFINED) {
      const special = type === TOKEN_TYPE.CONTROL;
      const entry = { content: tok as string, single_word: false, lstrip: false, rstrip: false, normalized: false, special };
      added.push({ id, ...entry });
      decoderEntries[String(id)] = entry;
      if (special) specials.push(tok as string);
    }
  });

  const { bos, eos, unk, pad } = specialIds(kv, tokens.length);
  const addBos = kv['tokenizer.ggml.add_bos_token'] === true && bos !== undefined;
  const addEos = kv['tokenizer.ggml.add_eos_token'] === true && eos !== undefined;
  const name = (id: number | undefined): string | undefined => (id === undefined ? undefined : (tokens[id] as string));

  let postProcessor: JsonObject = { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true };
  if (addBos || addEos) {
    const single: JsonObject[] = [];
    const pair: JsonObject[] = [];
    const specialTokens: JsonObject = {};
    const sp = (id: number, typeId: number): JsonObject => ({ SpecialToken: { id: name(id), type_id: typeId } });
    for (const [seq, typeId, list] of [['A', 0, single], ['B', 1, pair]] as const) {
      if (seq === 'B') pair.push(...single);
      if (addBos) list.push(sp(bos!, typeId));
      list.push({ Sequence: { id: seq, type_id: typeId } });
      if (addEos) list.push(sp(eos!, typeId));
    }
    for (const id of [addBos ? bos : undefined, addEos ? eos : undefined]) {
      if (id !== undefined) specialTokens[name(id)!] = { id: name(id), ids: [id], tokens: [name(id)] };
    }
    postProcessor = {
      type: 'Sequence',
      processors: [postProcessor, { type: 'TemplateProcessing', single, pair, special_tokens: specialTokens }],
    };
  }

  const tokenizerJson: JsonObject = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: spec.normalizer,
    pre_tokenizer: spec.preTokenizer,
    post_processor: postProcessor,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: spec.ignoreMerges,
      vocab,
      // "a b" strings: byte-level tokens never contain a space, and every tokenizers version reads this form.
      merges,
    },
  };

  const named = new Set([bos, eos, unk, pad].filter((x) => x !== undefined).map((id) => name(id)));
  return tokenizerFiles(kv, tokens as string[], tokenizerJson, {
    addBos,
    addEos,
    addedTokensDecoder: decoderEntries,
    chatTemplate: kv['tokenizer.chat_template'],
    extra: { add_prefix_space: false, additional_special_tokens: specials.filter((s) => !named.has(s)) },
  });
}
