/**
 * Text ↔ token ids, on top of `@huggingface/tokenizers` (pure JS port of HF tokenizers).
 *
 * We drive the library's normalizer / pre-tokenizer / BPE model / post-processor / decoder
 * ourselves instead of calling its `encode`, because its `encode` always turns text such as
 * "<|im_end|>" into the special token. User text must never do that (prompt injection of turn
 * markers), so this class has two entry points:
 *  - {@link Tokenizer.encode}: special tokens are plain text (HF `split_special_tokens=True`);
 *    non-special added tokens (e.g. Qwen3's `<think>`) are still recognised, as HF does.
 *  - {@link Tokenizer.encodeWithSpecials}: every added token is recognised (HF default), for
 *    trusted text such as a rendered chat template. {@link Tokenizer.encodeChat} combines both.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { MlxNativeError } from '../errors.js';
import type { ChatMessage } from './types.js';
import type { GgufMetadata } from './gguf.js';
import { ggufToTokenizerFiles, GPT2_PATTERN, type JsonObject } from './gguf-tokenizer.js';

/** Options of {@link Tokenizer.encode}. */
export interface EncodeOptions {
  /** Apply the tokenizer's post-processor (e.g. prepend BOS when the model wants it). Default false. */
  addSpecialTokens?: boolean;
}

/** Options of {@link Tokenizer.decode}. */
export interface DecodeOptions {
  /** Drop special (control) tokens from the output. Default false. */
  skipSpecialTokens?: boolean;
}

/** What {@link Tokenizer.encodeChat} needs from a chat template (see chat-template.ts). */
export interface ChatTemplateLike {
  render(messages: ChatMessage[], options?: Record<string, unknown>): string;
}

interface AddedTokenJson {
  id: number;
  content: string;
  lstrip?: boolean;
  rstrip?: boolean;
  special?: boolean;
}

/** Turn-end tokens that chat templates use; they count as EOS when the template mentions them. */
const TURN_END_TOKENS = ['<|im_end|>', '<|endoftext|>', '<|eot_id|>', '<|eom_id|>', '<|end|>', '<end_of_turn>', '<|end_of_text|>'];

// Noncharacters frame escaped special-token text inside chat messages (see encodeChat).
const ESC_OPEN = '\uFDD0';
const ESC_CLOSE = '\uFDD1';
const ESC_RESTORE = /\uFDD0(\d+)\uFDD1/g;

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Leftmost-longest matcher over literal strings (longest first in the alternation), or null if none. */
function literalMatcher(words: string[]): RegExp | null {
  const sorted = [...new Set(words)].filter((w) => w.length > 0).sort((a, b) => b.length - a.length);
  return sorted.length ? new RegExp(sorted.map(escapeRegExp).join('|'), 'g') : null;
}

/**
 * Rewrites library-divergent parts of a tokenizer.json for the JS library only (the exported JSON
 * stays HF's): its ByteLevel regex uses JS `\s` (adds U+FEFF, misses U+0085) and its Digits uses
 * `\d` (ASCII) where Rust uses Unicode White_Space / `char::is_numeric`. Split patterns go through
 * the library's Oniguruma translation, which gets both right.
 */
function patchForJs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(patchForJs);
  if (!node || typeof node !== 'object') return node;
  const o = node as JsonObject;
  if (o.type === 'Digits') {
    return { type: 'Split', pattern: { Regex: o.individual_digits ? '\\p{N}' : '\\p{N}+' }, behavior: 'Isolated', invert: false };
  }
  if (o.type === 'ByteLevel' && o.use_regex !== false && o.add_prefix_space !== true) {
    return {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: GPT2_PATTERN }, behavior: 'Isolated', invert: false },
        { ...o, use_regex: false },
      ],
    };
  }
  if (o.type === 'Sequence' && Array.isArray(o.pretokenizers)) return { ...o, pretokenizers: o.pretokenizers.map(patchForJs) };
  return o;
}

function tokenString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as JsonObject).content === 'string') return (v as JsonObject).content as string;
  return undefined;
}

async function readJson(path: string, required: boolean): Promise<JsonObject | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as JsonObject;
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MlxNativeError('INVALID_MODEL', `[tokenizer] cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Runs a tokenizer constructor: whatever a malformed tokenizer.json makes the tokenizer library
 * (or our own set-up) throw becomes an INVALID_MODEL error that names the source.
 */
function build(make: () => Tokenizer, source: string): Tokenizer {
  try {
    return make();
  } catch (err) {
    if (err instanceof MlxNativeError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new MlxNativeError('INVALID_MODEL', `[tokenizer] cannot build the tokenizer from ${source}: ${message}`, { cause: err });
  }
}

/** Picks the default template out of tokenizer_config's string / [{name, template}] forms. */
function pickTemplate(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    const entries = v as { name?: string; template?: string }[];
    return (entries.find((e) => e.name === 'default') ?? entries[0])?.template;
  }
  return undefined;
}

/** A model's tokenizer. Create with {@link Tokenizer.fromDirectory} or {@link Tokenizer.fromGguf}. */
export class Tokenizer {
  /** The chat template (Jinja source) shipped with the model, if any. */
  readonly chatTemplate: string | undefined;
  /** Id of the BOS token, if the model has one. */
  readonly bosTokenId: number | undefined;
  /** Ids that end generation: eos from the config(s) plus turn-end tokens the chat template uses. */
  readonly eosTokenIds: number[];
  /** Number of token ids (highest id + 1, or the GGUF token table size). */
  readonly vocabSize: number;

  private readonly hf: HfTokenizer;
  private readonly added = new Map<string, AddedTokenJson>();
  private readonly specialIds = new Set<number>();
  private readonly allMatcher: RegExp | null;
  private readonly plainMatcher: RegExp | null;
  private readonly escapeMatcher: RegExp;

  private constructor(
    private readonly json: JsonObject,
    private readonly config: JsonObject,
    extra: { eosIds: number[]; bosId?: number; vocabSize?: number },
  ) {
    const patched: JsonObject = {
      ...json,
      added_tokens: json.added_tokens ?? [],
      pre_tokenizer: patchForJs(json.pre_tokenizer ?? null),
      normalizer: json.normalizer ?? null,
      post_processor: json.post_processor ?? null,
      decoder: json.decoder ?? null,
    };
    // Cleanup is applied by neither decode nor streaming here (see decode), so tell the library too.
    this.hf = new HfTokenizer(patched, { ...config, clean_up_tokenization_spaces: false });
    const addedTokens = (json.added_tokens ?? []) as AddedTokenJson[];
    for (const t of addedTokens) {
      this.added.set(t.content, t);
      if (t.special) this.specialIds.add(t.id);
    }
    this.allMatcher = literalMatcher(addedTokens.map((t) => t.content));
    this.plainMatcher = literalMatcher(addedTokens.filter((t) => !t.special).map((t) => t.content));
    // The sentinels themselves are escaped too, so user text can never forge a placeholder.
    const specials = addedTokens.filter((t) => t.special).map((t) => t.content);
    this.escapeMatcher = literalMatcher([...specials, ESC_OPEN, ESC_CLOSE])!;

    this.chatTemplate = pickTemplate(config.chat_template);
    const toId = (v: unknown): number | undefined => {
      const s = tokenString(v);
      return s === undefined ? undefined : this.tokenToId(s);
    };
    this.bosTokenId = extra.bosId ?? toId(config.bos_token);
    const eos = new Set(extra.eosIds);
    const cfgEos = toId(config.eos_token);
    if (cfgEos !== undefined) eos.add(cfgEos);
    for (const tok of TURN_END_TOKENS) {
      const id = this.added.get(tok)?.id;
      if (id !== undefined && this.chatTemplate?.includes(tok)) eos.add(id);
    }
    this.eosTokenIds = [...eos].sort((a, b) => a - b);
    // The library's id → token array spans the highest id (added tokens included).
    this.vocabSize = Math.max(extra.vocabSize ?? 0, this.hf.model?.vocab.length ?? 0);
  }

  /**
   * Loads `tokenizer.json` + `tokenizer_config.json` (+ optional `chat_template.jinja`,
   * `generation_config.json` / `config.json` for extra EOS ids) from a model directory.
   */
  static async fromDirectory(dir: string): Promise<Tokenizer> {
    const json = (await readJson(join(dir, 'tokenizer.json'), true))!;
    const config = (await readJson(join(dir, 'tokenizer_config.json'), false)) ?? {};
    if (config.chat_template === undefined) {
      const jinja = await readFile(join(dir, 'chat_template.jinja'), 'utf8').catch(() => undefined);
      const tpl = jinja ?? (await readJson(join(dir, 'chat_template.json'), false))?.chat_template;
      if (tpl !== undefined) config.chat_template = tpl;
    }
    const eosIds: number[] = [];
    for (const file of ['generation_config.json', 'config.json']) {
      const v = (await readJson(join(dir, file), false))?.eos_token_id;
      for (const id of Array.isArray(v) ? v : [v]) if (typeof id === 'number') eosIds.push(id);
    }
    return build(() => new Tokenizer(json, config, { eosIds }), dir);
  }

  /**
   * Builds the tokenizer from GGUF metadata (byte-level BPE "gpt2" and SentencePiece "llama" tokenizers).
   * @throws MlxNativeError code UNSUPPORTED_TOKENIZER for other tokenizer models.
   */
  static fromGguf(metadata: GgufMetadata): Tokenizer {
    const files = ggufToTokenizerFiles(metadata);
    return build(
      () =>
        new Tokenizer(files.tokenizerJson, files.tokenizerConfig, {
          eosIds: files.eosTokenIds,
          bosId: files.bosTokenId,
          vocabSize: files.vocabSize,
        }),
      'the GGUF metadata',
    );
  }

  /** The HF `tokenizer.json` object (write it as JSON into a converted model directory). */
  toTokenizerJson(): JsonObject {
    return this.json;
  }

  /** The HF `tokenizer_config.json` object (bos/eos/pad tokens, chat_template, ...). */
  toTokenizerConfig(): JsonObject {
    return this.config;
  }

  /** Encodes untrusted text: special-token strings in it are encoded as ordinary text. */
  encode(text: string, options: EncodeOptions = {}): number[] {
    return this.encodeWith(text, this.plainMatcher, options.addSpecialTokens ?? false);
  }

  /** Encodes trusted text in which special-token strings (e.g. "<|im_start|>") are the special tokens. */
  encodeWithSpecials(text: string, options: EncodeOptions = {}): number[] {
    return this.encodeWith(text, this.allMatcher, options.addSpecialTokens ?? false);
  }

  /**
   * Renders a chat and encodes it so that only the template's own special tokens become specials.
   *
   * Special-token strings inside message fields are swapped for placeholders
   * (U+FDD0 index U+FDD1) before rendering; the rendered text is split on the real specials, then
   * placeholders are restored and those parts encoded as plain text. So a user writing
   * "<|im_end|>" gets the same ids as `encode("<|im_end|>")`, unlike HF's apply_chat_template,
   * which would emit the control token. No BOS is added: templates write it themselves.
   * Limitation: a template that slices message text could cut a placeholder in half.
   */
  encodeChat(template: ChatTemplateLike, messages: ChatMessage[], options: Record<string, unknown> = {}): { ids: number[]; text: string } {
    const originals: string[] = [];
    const escape = (s: string): string =>
      s.replace(this.escapeMatcher, (m) => `${ESC_OPEN}${originals.push(m) - 1}${ESC_CLOSE}`);
    const escaped = messages.map((m) => {
      const out: Record<string, unknown> = { ...m };
      for (const [k, v] of Object.entries(m)) if (k !== 'role' && typeof v === 'string') out[k] = escape(v);
      return out as unknown as ChatMessage;
    });
    const rendered = template.render(escaped, options);
    const restore = (s: string): string => s.replace(ESC_RESTORE, (all, i: string) => originals[Number(i)] ?? all);
    return { ids: this.encodeWith(rendered, this.allMatcher, false, restore), text: restore(rendered) };
  }

  /**
   * Decodes ids to text. Ids outside the vocabulary decode to nothing. Never applies HF's
   * `clean_up_tokenization_spaces` (it would corrupt code and break streaming equality).
   */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const valid = ids.filter((id) => this.hf.id_to_token(id) !== undefined);
    if (valid.length === 0) return '';
    return this.hf.decode(valid, { skip_special_tokens: options.skipSpecialTokens ?? false, clean_up_tokenization_spaces: false });
  }

  /** The token string for an id (byte-level form, e.g. "Ġhello"), or undefined. */
  idToToken(id: number): string | undefined {
    return this.hf.id_to_token(id);
  }

  /** The id of a token string (byte-level form), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.added.get(token)?.id ?? this.hf.token_to_id(token);
  }

  /** Whether the id is a special (control) token. */
  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  /** Whether the id is an added token (special or not): its string is its literal text. */
  isAdded(id: number): boolean {
    const token = this.hf.id_to_token(id);
    return token !== undefined && this.added.get(token)?.id === id;
  }

  /** The text of every special token (to strip from output decoded with its specials). */
  specialTokens(): string[] {
    return [...this.added.values()].filter((t) => t.special).map((t) => t.content);
  }

  /**
   * The library's encode_text, but with a caller-chosen set of recognised added tokens, and an
   * optional `restore` applied to the text between them before it is tokenized.
   */
  private encodeWith(text: string, matcher: RegExp | null, addSpecial: boolean, restore?: (s: string) => string): number[] {
    // Alternating [text, added, text, ..., text]; odd indices are added-token matches.
    const sections: string[] = [];
    let last = 0;
    if (matcher) {
      for (const m of text.matchAll(matcher)) {
        sections.push(text.slice(last, m.index), m[0]);
        last = m.index! + m[0].length;
      }
    }
    sections.push(text.slice(last));
    for (let i = 1; i < sections.length; i += 2) {
      const tok = this.added.get(sections[i])!;
      if (tok.lstrip) sections[i - 1] = sections[i - 1].trimEnd();
      if (tok.rstrip) sections[i + 1] = sections[i + 1].trimStart();
    }
    const { normalizer, pre_tokenizer: pre, model, post_processor: post } = this.hf;
    const tokens: string[] = [];
    sections.forEach((section, i) => {
      if (i % 2 === 1) return void tokens.push(section);
      let s = restore ? restore(section) : section;
      if (s.length === 0) return;
      if (normalizer) s = normalizer(s);
      if (s.length === 0) return;
      const words = pre ? pre(s, { section_index: i }) : [s];
      for (const t of model!(words)) tokens.push(t);
    });
    const processed = post ? post(tokens, null, addSpecial).tokens : tokens;
    const unk = model!.unk_token_id;
    const ids: number[] = [];
    for (const t of processed) {
      const id = this.added.get(t)?.id ?? model!.tokens_to_ids.get(t) ?? unk;
      if (id !== undefined) ids.push(id);
    }
    return ids;
  }
}
