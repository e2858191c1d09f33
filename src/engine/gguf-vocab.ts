/**
 * What every GGUF vocabulary (byte-level BPE or SentencePiece) gives the same way: its special
 * token ids and the tokenizer_config.json built from them. gguf-tokenizer.ts and gguf-spm.ts
 * build the tokenizer.json that differs.
 */
import type { GgufValue } from './gguf.js';

export type JsonObject = Record<string, unknown>;

/** A token id from the metadata, or undefined when absent or outside the vocabulary. */
export function optId(kv: Record<string, GgufValue>, key: string, size: number): number | undefined {
  const v = kv[key];
  const n = typeof v === 'bigint' ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n < size ? n : undefined;
}

/** The special tokens a GGUF names: `tokenizer.ggml.{bos,eos,unknown,padding}_token_id`. */
export function specialIds(kv: Record<string, GgufValue>, size: number) {
  return {
    bos: optId(kv, 'tokenizer.ggml.bos_token_id', size),
    eos: optId(kv, 'tokenizer.ggml.eos_token_id', size),
    unk: optId(kv, 'tokenizer.ggml.unknown_token_id', size),
    pad: optId(kv, 'tokenizer.ggml.padding_token_id', size),
  };
}

/** Result of building tokenizer files from GGUF metadata. */
export interface GgufTokenizerFiles {
  tokenizerJson: JsonObject;
  tokenizerConfig: JsonObject;
  /** eos / eot / eom ids declared in the GGUF. */
  eosTokenIds: number[];
  bosTokenId?: number;
  /** Number of rows of the token table (embedding size), including unused padding entries. */
  vocabSize: number;
}

/**
 * The files from a built tokenizer.json: tokenizer_config.json (special tokens by name, the
 * chat template, the context length; `extra` adds vocabulary-specific fields) and the
 * end-of-sequence ids.
 */
export function tokenizerFiles(
  kv: Record<string, GgufValue>,
  tokens: string[],
  tokenizerJson: JsonObject,
  opts: { addBos: boolean; addEos: boolean; addedTokensDecoder: JsonObject; chatTemplate: unknown; extra?: JsonObject },
): GgufTokenizerFiles {
  const size = tokens.length;
  const { bos, eos, unk, pad } = specialIds(kv, size);
  const name = (id: number | undefined): string | undefined => (id === undefined ? undefined : tokens[id]);
  const ctx = kv[`${String(kv['general.architecture'])}.context_length`];
  const tokenizerConfig: JsonObject = {
    add_bos_token: opts.addBos,
    add_eos_token: opts.addEos,
    ...opts.extra,
    added_tokens_decoder: opts.addedTokensDecoder,
    bos_token: name(bos),
    eos_token: name(eos),
    unk_token: name(unk),
    pad_token: name(pad),
    chat_template: typeof opts.chatTemplate === 'string' ? opts.chatTemplate : undefined,
    // Cleanup rewrites " ." to "." etc.: wrong for code and breaks streaming detokenization.
    clean_up_tokenization_spaces: false,
    model_max_length: typeof ctx === 'number' ? ctx : undefined,
    // The generic fast class uses tokenizer.json as-is (no class-specific BOS/prefix-space rewrites).
    tokenizer_class: 'PreTrainedTokenizerFast',
  };
  for (const key of Object.keys(tokenizerConfig)) if (tokenizerConfig[key] === undefined) delete tokenizerConfig[key];
  const eosTokenIds = ['eos', 'eot', 'eom']
    .map((k) => optId(kv, `tokenizer.ggml.${k}_token_id`, size))
    .filter((id): id is number => id !== undefined);
  return { tokenizerJson, tokenizerConfig, eosTokenIds: [...new Set(eosTokenIds)], bosTokenId: bos, vocabSize: size };
}
