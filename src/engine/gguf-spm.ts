/**
 * SentencePiece tokenizers (`tokenizer.ggml.model == "llama"`: Llama 1/2, Mistral v0.1, Gemma,
 * Phi-3) rebuilt from GGUF metadata as a Hugging Face `tokenizer.json`.
 *
 * SentencePiece's BPE joins, at each step, the adjacent pair whose concatenation is the
 * highest-scoring piece of the vocabulary; characters no piece covers fall back to their UTF-8
 * bytes (`<0xNN>` pieces). A BPE model whose merges are every (left, right) split of each normal
 * piece, ranked by that piece's score, makes the same choices, so the tokens, scores and types of
 * the GGUF are all that is needed. Whitespace is escaped as U+2581 ("▁"), with one prepended to
 * the text when `tokenizer.ggml.add_space_prefix` says so; user-defined pieces (Gemma's "\n",
 * runs of tabs, HTML tags) are matched whole before BPE, as SentencePiece does.
 */
import { MlxNativeError } from '../errors.js';
import type { GgufMetadata } from './gguf.js';
import { specialIds, tokenizerFiles, type GgufTokenizerFiles, type JsonObject } from './gguf-vocab.js';

/** GGUF token types (the same numbering as SentencePiece's piece types). */
const TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;
const SPACE = '\u2581';

/**
 * Gemma's turn format, for Gemma GGUF files that carry no `tokenizer.chat_template` (system text
 * goes at the start of the first user turn, as in Google's own template).
 */
const GEMMA_TEMPLATE =
  "{{ bos_token }}{% set ns = namespace(system='') %}" +
  "{% for m in messages %}{% if m['role'] == 'system' %}{% set ns.system = ns.system + m['content'] + '\\n\\n' %}{% endif %}{% endfor %}" +
  "{% set first = namespace(done=false) %}" +
  "{% for m in messages %}{% if m['role'] != 'system' %}" +
  "{% set role = 'model' if m['role'] == 'assistant' else m['role'] %}" +
  "{{ '<start_of_turn>' + role + '\\n' }}{% if not first.done and role == 'user' %}{{ ns.system }}{% endif %}" +
  "{% set first.done = true %}{{ m['content'] | trim }}{{ '<end_of_turn>\\n' }}" +
  '{% endif %}{% endfor %}' +
  "{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}";

function invalid(message: string): MlxNativeError {
  return new MlxNativeError('INVALID_MODEL', `[tokenizer] ${message}`);
}


/** Every split of each normal piece into two normal pieces, best-scoring piece first. */
function mergesFromScores(tokens: string[], scores: number[], types: number[], ids: Map<string, number>): [string, string][] {
  const order: number[] = [];
  for (let id = 0; id < tokens.length; id++) if (types[id] === TYPE.NORMAL && tokens[id].length > 1) order.push(id);
  order.sort((a, b) => scores[b] - scores[a] || a - b);
  const merges: [string, string][] = [];
  const local: [number, number][] = [];
  for (const id of order) {
    const tok = tokens[id];
    local.length = 0;
    for (let i = 1; i < tok.length; i++) {
      const c = tok.charCodeAt(i);
      if (c >= 0xdc00 && c <= 0xdfff) continue; // inside a surrogate pair
      const l = ids.get(tok.slice(0, i));
      const r = ids.get(tok.slice(i));
      if (l !== undefined && r !== undefined && types[l] === TYPE.NORMAL && types[r] === TYPE.NORMAL) local.push([l, r]);
    }
    if (local.length > 1) local.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    for (const [l, r] of local) merges.push([tokens[l], tokens[r]]);
  }
  return merges;
}

/**
 * Builds HF tokenizer files for a SentencePiece GGUF tokenizer.
 * @throws Error code INVALID_MODEL when tokens, scores or types are missing or inconsistent.
 */
export function sentencePieceTokenizerFiles(meta: GgufMetadata): GgufTokenizerFiles {
  const { kv } = meta;
  const tokens = kv['tokenizer.ggml.tokens'];
  const scores = kv['tokenizer.ggml.scores'];
  const types = kv['tokenizer.ggml.token_type'];
  if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === 'string')) throw invalid('tokenizer.ggml.tokens missing or not strings');
  if (!Array.isArray(scores) || scores.length !== tokens.length || !scores.every((s) => typeof s === 'number')) {
    throw invalid('tokenizer.ggml.scores missing or not one number per token');
  }
  if (types !== undefined && (!Array.isArray(types) || types.length !== tokens.length)) throw invalid('tokenizer.ggml.token_type length differs from tokens');
  const toks = tokens as string[];
  const typeList = toks.map((_, i) => (Array.isArray(types) ? Number(types[i]) : TYPE.NORMAL));

  const vocab = Object.create(null) as Record<string, number>;
  const ids = new Map<string, number>();
  const added: JsonObject[] = [];
  const decoderEntries: Record<string, JsonObject> = {};
  toks.forEach((tok, id) => {
    if (!ids.has(tok)) {
      ids.set(tok, id);
      vocab[tok] = id;
    }
    const type = typeList[id];
    if (type === TYPE.CONTROL || type === TYPE.USER_DEFINED || type === TYPE.UNKNOWN) {
      const entry = { content: tok, single_word: false, lstrip: false, rstrip: false, normalized: false, special: type !== TYPE.USER_DEFINED };
      added.push({ id, ...entry });
      decoderEntries[String(id)] = entry;
    }
  });

  const size = toks.length;
  const { bos, eos, unk } = specialIds(kv, size);
  // llama.cpp's defaults for SentencePiece vocabularies: BOS yes, EOS no, space prefix yes.
  const addBos = kv['tokenizer.ggml.add_bos_token'] !== false && bos !== undefined;
  const addEos = kv['tokenizer.ggml.add_eos_token'] === true && eos !== undefined;
  const spacePrefix = kv['tokenizer.ggml.add_space_prefix'] !== false;

  const single: JsonObject[] = [];
  const specialTokens: JsonObject = {};
  if (addBos) single.push({ SpecialToken: { id: toks[bos!], type_id: 0 } });
  single.push({ Sequence: { id: 'A', type_id: 0 } });
  if (addEos) single.push({ SpecialToken: { id: toks[eos!], type_id: 0 } });
  for (const id of [addBos ? bos : undefined, addEos ? eos : undefined]) {
    if (id !== undefined) specialTokens[toks[id]] = { id: toks[id], ids: [id], tokens: [toks[id]] };
  }
  const pair = [...single, ...single.map((p) => (p.Sequence ? { Sequence: { id: 'B', type_id: 1 } } : p))];

  const decoders: JsonObject[] = [
    { type: 'Replace', pattern: { String: SPACE }, content: ' ' },
    { type: 'ByteFallback' },
    { type: 'Fuse' },
  ];
  if (spacePrefix) decoders.push({ type: 'Strip', content: ' ', start: 1, stop: 0 });
  const replaceSpaces = { type: 'Replace', pattern: { String: ' ' }, content: SPACE };
  const tokenizerJson: JsonObject = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    // Spaces become "▁"; with the prefix, one "▁" starts each run of text between special or
    // user-defined tokens (as llama.cpp does, and Llama 2's own tokenizer.json).
    normalizer: spacePrefix ? { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: SPACE }, replaceSpaces] } : replaceSpaces,
    pre_tokenizer: null,
    post_processor: { type: 'TemplateProcessing', single, pair, special_tokens: specialTokens },
    decoder: { type: 'Sequence', decoders },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: unk === undefined ? null : toks[unk],
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges: mergesFromScores(toks, scores as number[], typeList, ids),
    },
  };

  let chatTemplate = kv['tokenizer.chat_template'];
  if (typeof chatTemplate !== 'string' && ids.has('<start_of_turn>') && ids.has('<end_of_turn>')) chatTemplate = GEMMA_TEMPLATE;
  return tokenizerFiles(kv, toks, tokenizerJson, { addBos, addEos, addedTokensDecoder: decoderEntries, chatTemplate });
}
