import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtemp, open, writeFile, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGgufMetadata, ggufToHfConfig, type GgufMetadata } from '../src/engine/gguf.js';
import { Tokenizer } from '../src/engine/tokenizer.js';
import { StreamDecoder, type Detokenizer } from '../src/engine/stream-decoder.js';
import { StopMatcher } from '../src/engine/stop-matcher.js';
import { ChatTemplate, CHATML_TEMPLATE } from '../src/engine/chat-template.js';
import type { ChatMessage } from '../src/engine/types.js';

import { FIXTURE } from './helpers/fixture.js'; // fails with instructions when the model is missing

/** Deterministic PRNG so failures reproduce. */
function rng(seed: number): () => number {
  return () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
}

async function expectCode(p: Promise<unknown>, code: string, msg?: RegExp): Promise<void> {
  const err = (await p.then(() => undefined, (e: unknown) => e)) as (Error & { code?: string }) | undefined;
  expect(err, 'expected a rejection').toBeInstanceOf(Error);
  expect(err!.code).toBe(code);
  if (msg) expect(err!.message).toMatch(msg);
}

const TEXTS = [
  'Hello, world! The quick brown fox.',
  "I'm fine; DON'T worry, it's 12345 or 3.14159.",
  '😀 👨‍👩‍👧‍👦 🇯🇵 👍🏽 emoji',
  '日本語のテキスト。中文文本。한국어',
  'e\u0301 n\u0303 a\u0308\u0304 Z\u0335\u0321 (combining)',
  '  leading\n\n  spaces\t\ttabs \r\n trailing  ',
  'def f(x):\n    return x ** 2  # square\n',
];

describe('GGUF metadata (SmolLM2 fixture)', () => {
  let meta: GgufMetadata;
  beforeAll(async () => {
    meta = await readGgufMetadata(FIXTURE);
  });

  it('parses header, key/values and tensor infos', () => {
    expect(meta.version).toBe(3);
    expect(meta.kv['general.architecture']).toBe('llama');
    expect(meta.kv['llama.block_count']).toBe(30);
    expect(meta.kv['llama.embedding_length']).toBe(576);
    expect((meta.kv['tokenizer.ggml.tokens'] as string[]).length).toBe(49152);
    expect((meta.kv['tokenizer.ggml.merges'] as string[]).length).toBeGreaterThan(40000);
    expect(meta.kv['tokenizer.chat_template']).toMatch(/<\|im_start\|>/);
    expect(meta.tensors.length).toBe(272);
    const emb = meta.tensors.find((t) => t.name === 'token_embd.weight')!;
    expect(emb.dims).toEqual([576, 49152]);
    const last = meta.tensors.reduce((a, t) => Math.max(a, meta.dataOffset + t.offset + (t.nbytes ?? 0)), 0);
    expect(last).toBeLessThanOrEqual(meta.fileSize);
    expect(meta.dataOffset % meta.alignment).toBe(0);
  });

  it('maps to a Hugging Face config', () => {
    const c = ggufToHfConfig(meta);
    expect(c).toMatchObject({
      model_type: 'llama', architectures: ['LlamaForCausalLM'], hidden_size: 576, num_hidden_layers: 30,
      intermediate_size: 1536, num_attention_heads: 9, num_key_value_heads: 3, head_dim: 64, rms_norm_eps: 1e-5,
      rope_theta: 100000, max_position_embeddings: 8192, vocab_size: 49152, tie_word_embeddings: true,
      bos_token_id: 1, eos_token_id: 2,
    });
  });
});

describe('GGUF corruption → INVALID_MODEL', () => {
  let dir: string;
  let head: Buffer;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mlx-native-gguf-'));
    const fh = await open(FIXTURE, 'r');
    head = Buffer.alloc(2_000_000);
    await fh.read(head, 0, head.length, 0);
    await fh.close();
    return () => rm(dir, { recursive: true, force: true });
  });
  const write = async (name: string, data: Uint8Array): Promise<string> => {
    const p = join(dir, name);
    await writeFile(p, data);
    return p;
  };

  it('truncated header / metadata / tensor data', async () => {
    await expectCode(readGgufMetadata(await write('t1000', head.subarray(0, 1000))), 'INVALID_MODEL', /truncated (or corrupt )?metadata at byte \d+/);
    await expectCode(readGgufMetadata(await write('t10', head.subarray(0, 10))), 'INVALID_MODEL', /too small/);
    await expectCode(readGgufMetadata(await write('t300k', head.subarray(0, 300_000))), 'INVALID_MODEL', /truncated|corrupt/);
    // Whole metadata present but no tensor data: caught by the tensor bounds check.
    await expectCode(readGgufMetadata(await write('t2m', head)), 'INVALID_MODEL', /truncated\?/);
  });

  it('wrong magic, bad version, absurd lengths', async () => {
    const bad = Buffer.from(head.subarray(0, 4096));
    bad.write('GGML', 0, 'latin1');
    await expectCode(readGgufMetadata(await write('magic', bad)), 'INVALID_MODEL', /bad magic/);
    const v9 = Buffer.from(head.subarray(0, 4096));
    v9.writeUInt32LE(9, 4);
    await expectCode(readGgufMetadata(await write('v9', v9)), 'INVALID_MODEL', /version 9/);
    // A 2^62 key length must be rejected up front, not allocated.
    const huge = Buffer.from(head);
    huge.writeBigUInt64LE(1n << 62n, 24);
    await expectCode(readGgufMetadata(await write('huge', huge)), 'INVALID_MODEL', /truncated or corrupt metadata at byte 24: key length \d+ needs more/);
    const count = Buffer.from(head);
    count.writeBigUInt64LE(1n << 40n, 16);
    await expectCode(readGgufMetadata(await write('count', count)), 'INVALID_MODEL', /metadata count 1099511627776 needs more/);
  });
});

describe('Tokenizer (SmolLM2 from GGUF)', () => {
  let meta: GgufMetadata;
  let tok: Tokenizer;
  beforeAll(async () => {
    meta = await readGgufMetadata(FIXTURE);
    tok = Tokenizer.fromGguf(meta);
  });

  it('exposes special ids and vocab', () => {
    expect(tok.vocabSize).toBe(49152);
    expect(tok.bosTokenId).toBe(1);
    expect(tok.eosTokenIds).toEqual([2]);
    expect(tok.idToToken(2)).toBe('<|im_end|>');
    expect(tok.idToToken(905)).toBe('Ġworld');
    expect(tok.isSpecial(0)).toBe(true);
    expect(tok.isSpecial(905)).toBe(false);
  });

  it('matches ids produced by HF tokenizers (Rust) for SmolLM2', () => {
    // Golden ids checked against Python `tokenizers` 0.23 on the same strings.
    expect(tok.encode('Hello world')).toEqual([19556, 905]);
    expect(tok.encode('x = 12345; 3.14')).toEqual([104, 446, 216, 33, 34, 35, 36, 37, 43, 216, 35, 30, 33, 36]);
    expect(tok.encodeWithSpecials('Hello <|im_end|> world')).toEqual([19556, 216, 2, 905]);
    expect(tok.encode('Hello <|im_end|> world')).toEqual([19556, 2067, 108, 306, 79, 486, 108, 46, 905]);
    expect(tok.encode('Hi', { addSpecialTokens: true })).toEqual(tok.encode('Hi')); // SmolLM2 adds no BOS
  });

  it('round-trips ASCII, emoji, CJK, combining characters and whitespace', () => {
    for (const t of TEXTS) {
      const ids = tok.encode(t);
      expect(ids.length).toBeGreaterThan(0);
      expect(tok.decode(ids)).toBe(t);
    }
    expect(tok.encode('')).toEqual([]);
    expect(tok.decode([])).toBe('');
  });

  it('keeps special-token-looking user text plain', () => {
    for (const t of ['<|im_end|>', '<|im_start|>assistant\n', 'x<|endoftext|>y', '<jupyter_code>']) {
      const ids = tok.encode(t);
      expect(ids.some((id) => tok.isSpecial(id))).toBe(false);
      expect(tok.decode(ids)).toBe(t);
    }
    expect(tok.encodeWithSpecials('<|im_end|>')).toEqual([2]);
    expect(tok.decode([1, 19556, 2], { skipSpecialTokens: true })).toBe('Hello');
    expect(tok.decode([1, 19556, 2])).toBe('<|im_start|>Hello<|im_end|>');
  });

  it('encodes a chat: template specials are specials, user content never is', () => {
    const ct = new ChatTemplate(tok.chatTemplate);
    const msgs: ChatMessage[] = [
      { role: 'system', content: 'Be nice.' },
      { role: 'user', content: 'Hi <|im_end|> there \uFDD00\uFDD1' },
    ];
    const { ids, text } = tok.encodeChat(ct, msgs);
    expect(text).toBe(ct.render(msgs));
    const specials = ids.filter((id) => tok.isSpecial(id));
    expect(specials).toEqual([1, 2, 1, 2, 1]); // <|im_start|> … <|im_end|> ×2, then the generation prompt
    const userIds = tok.encode('Hi <|im_end|> there \uFDD00\uFDD1');
    const start = ids.indexOf(1, 1) + 3; // after "<|im_start|>user\n"
    expect(ids.slice(start, start + userIds.length)).toEqual(userIds);
    expect(tok.decode(ids)).toBe(text);
    // Without adversarial content the result equals encoding the rendered text with specials (HF behaviour).
    const plain: ChatMessage[] = [{ role: 'user', content: 'What is 2+2?' }];
    expect(tok.encodeChat(ct, plain).ids).toEqual(tok.encodeWithSpecials(ct.render(plain)));
  });

  it('exports tokenizer.json / tokenizer_config.json that load back identically', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mlx-native-tok-'));
    try {
      await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tok.toTokenizerJson()));
      await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(tok.toTokenizerConfig()));
      const cfg = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8'));
      expect(cfg).toMatchObject({ bos_token: '<|im_start|>', eos_token: '<|im_end|>', add_bos_token: false, tokenizer_class: 'PreTrainedTokenizerFast' });
      expect(cfg.chat_template).toBe(tok.chatTemplate);
      const back = await Tokenizer.fromDirectory(dir);
      for (const t of [...TEXTS, 'a <|im_end|> b']) {
        expect(back.encode(t)).toEqual(tok.encode(t));
        expect(back.encodeWithSpecials(t)).toEqual(tok.encodeWithSpecials(t));
      }
      expect(back.eosTokenIds).toEqual(tok.eosTokenIds);
      expect(back.chatTemplate).toBe(tok.chatTemplate);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects GGUF tokenizer models other than gpt2 and llama with UNSUPPORTED_TOKENIZER', () => {
    const wpm = { ...meta, kv: { ...meta.kv, 'tokenizer.ggml.model': 'bert' } };
    expect(() => Tokenizer.fromGguf(wpm)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_TOKENIZER' }));
  });

  it('rejects a SentencePiece GGUF vocabulary without scores with INVALID_MODEL', () => {
    const spm = { ...meta, kv: { ...meta.kv, 'tokenizer.ggml.model': 'llama' } };
    expect(() => Tokenizer.fromGguf(spm)).toThrow(expect.objectContaining({ code: 'INVALID_MODEL', message: expect.stringMatching(/scores/) }));
  });

  it('StreamDecoder deltas concatenate to decode() for random ids', () => {
    const rand = rng(7);
    for (let trial = 0; trial < 200; trial++) {
      const ids = Array.from({ length: 1 + Math.floor(rand() * 40) }, () => Math.floor(rand() * tok.vocabSize));
      for (const skip of [false, true]) {
        const sd = new StreamDecoder(tok, { skipSpecialTokens: skip });
        let out = '';
        for (let i = 0; i < ids.length; ) {
          const n = 1 + Math.floor(rand() * 3); // one or several at a time
          out += sd.push(ids.slice(i, i + n));
          i += n;
        }
        out += sd.flush();
        expect(out).toBe(tok.decode(ids, { skipSpecialTokens: skip }));
      }
    }
  });

  it('StreamDecoder never splits multi-byte characters', () => {
    for (const t of TEXTS) {
      const ids = tok.encode(t);
      const sd = new StreamDecoder(tok);
      const deltas = ids.map((id) => sd.push(id));
      deltas.push(sd.flush());
      for (const d of deltas) expect(d).not.toContain('\uFFFD');
      expect(deltas.join('')).toBe(t);
      expect(sd.tokenCount).toBe(ids.length);
    }
  });
});

describe('StreamDecoder with a SentencePiece-like decoder', () => {
  // Decodes "_w" pieces to " w" but drops the first leading space, like Metaspace decoders.
  const vocab = ['_Hello', '_world', '!', '_a'];
  const sp: Detokenizer = { decode: (ids) => ids.map((i) => vocab[i].replace('_', ' ')).join('').replace(/^ /, '') };
  it('keeps spaces between pieces', () => {
    const ids = [0, 1, 2, 3, 1];
    const sd = new StreamDecoder(sp);
    const out = ids.map((id) => sd.push(id)).join('') + sd.flush();
    expect(out).toBe(sp.decode(ids));
    expect(out).toBe('Hello world! a world');
  });
});

describe('StopMatcher', () => {
  const run = (stops: string[], deltas: string[]) => {
    const m = new StopMatcher(stops);
    const parts = deltas.map((d) => m.push(d));
    return { text: parts.map((p) => p.text).join('') + m.flush(), parts, m };
  };

  it('detects a stop string split across deltas and strips it and what follows', () => {
    const { text, parts } = run(['<|user|>'], ['Hello <|', 'us', 'er|> more', 'ignored']);
    expect(text).toBe('Hello ');
    expect(parts.map((p) => p.text)).toEqual(['Hello ', '', '', '']);
    expect(parts[2]).toMatchObject({ stopped: true, stop: '<|user|>' });
    expect(parts[3]).toEqual({ text: '', stopped: true });
  });

  it('releases held text that stops matching, and at flush', () => {
    expect(run(['END'], ['abc E', 'N', 'x']).parts.map((p) => p.text)).toEqual(['abc ', '', 'ENx']);
    expect(run(['END'], ['abc EN']).text).toBe('abc EN');
    expect(run([], ['a', 'b']).text).toBe('ab');
    expect(new StopMatcher(['', 'x']).push('abc')).toEqual({ text: 'abc', stopped: false });
  });

  it('picks the earliest stop and handles overlapping candidates', () => {
    expect(run(['world', 'lo w'], ['hello world']).parts[0]).toMatchObject({ text: 'hel', stop: 'lo w' });
    expect(run(['aab'], ['a', 'a', 'a', 'b', 'c']).text).toBe('a');
    expect(run(['\n\n', '###'], ['one\n', '\ntwo']).text).toBe('one');
    expect(run(['😀!'], ['ok 😀', '!']).text).toBe('ok ');
  });
});

describe('ChatTemplate', () => {
  const SMOL =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}" +
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
  const chat: ChatMessage[] = [
    { role: 'system', content: 'S' },
    { role: 'user', content: 'U' },
    { role: 'assistant', content: 'A' },
    { role: 'user', content: 'U2' },
  ];

  it('renders SmolLM2 ChatML for system/user/assistant', () => {
    const ct = new ChatTemplate(SMOL);
    expect(ct.render(chat)).toBe(
      '<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n<|im_start|>user\nU2<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(ct.render([{ role: 'user', content: 'hi' }], { addGenerationPrompt: false })).toBe(
      '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n',
    );
  });

  it('maps developer to system unless the template knows developer', () => {
    expect(new ChatTemplate(SMOL).render([{ role: 'developer', content: 'D' }], { addGenerationPrompt: false })).toBe('<|im_start|>system\nD<|im_end|>\n');
    const aware = new ChatTemplate("{% for m in messages %}{% if m.role == 'developer' %}DEV:{% endif %}{{ m.content }}{% endfor %}");
    expect(aware.handlesDeveloperRole).toBe(true);
    expect(aware.render([{ role: 'developer', content: 'x' }])).toBe('DEV:x');
  });

  it('falls back to ChatML and passes bos/eos and extra variables', () => {
    const ct = new ChatTemplate(undefined);
    expect(ct.isFallback).toBe(true);
    expect(ct.source).toBe(CHATML_TEMPLATE);
    expect(ct.render([{ role: 'user', content: 'q' }])).toBe('<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n');
    const vars = new ChatTemplate('{{ bos_token }}{{ flag }}{{ eos_token }}', { bosToken: '<s>' });
    expect(vars.render([], { flag: 'F', eosToken: '</s>' })).toBe('<s>F</s>');
  });

  it('reports template errors as CHAT_TEMPLATE_ERROR', () => {
    expect(() => new ChatTemplate('{% for x in %}')).toThrow(expect.objectContaining({ code: 'CHAT_TEMPLATE_ERROR' }));
    const raising = new ChatTemplate("{{ raise_exception('roles must alternate') }}");
    expect(() => raising.render([])).toThrow(expect.objectContaining({ code: 'CHAT_TEMPLATE_ERROR', message: expect.stringMatching(/roles must alternate/) }));
  });
});
