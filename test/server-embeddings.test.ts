// /v1/embeddings, /tokenize and /detokenize end to end: a real `mlx-native serve` process with
// the fixture model and the official openai client (which asks for base64 and decodes it).
// Embedding responses are checked against OpenAI's published schema and against mlx-lm's
// pooling of the same text; token ids against mlx-lm's tokenizer and chat template.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFixtureF32, referenceTokenize, requireVenv, runReference } from './helpers/models.js';
import { assertSchema } from './helpers/server-schemas.js';
import { request, startServer, type ServerProcess } from './helpers/server.js';

const MODEL = 'SmolLM2-135M-Instruct.Q4_1';
const HIDDEN = 576;
const TEXTS = ['The quick brown fox jumps over the lazy dog.', 'Hello world'];

let server: ServerProcess;
let client: OpenAI;

beforeAll(async () => {
  requireVenv();
  server = await startServer(['--dtype', 'float32']); // as the mlx-lm reference computes
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'not-needed', maxRetries: 0 });
});
afterAll(async () => {
  expect(await server?.stop()).toBe(0);
});

const post = (path: string, body: unknown) => request(server.url, 'POST', path, { body });
const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((x, i) => Math.abs(x - b[i])));

describe('POST /v1/embeddings', () => {
  let floats: number[][];

  it('answers floats in OpenAI shape, equal to mlx-lm mean pooling of the same tokens', async () => {
    const res = await post('/v1/embeddings', { model: MODEL, input: TEXTS, encoding_format: 'float' });
    expect(res.status).toBe(200);
    const body = res.json() as OpenAI.CreateEmbeddingResponse;
    assertSchema('CreateEmbeddingResponse', body);
    expect(body.model).toBe(MODEL);
    expect(body.data.map((d) => d.index)).toEqual([0, 1]);
    floats = body.data.map((d) => d.embedding);
    const dir = await ensureFixtureF32();
    const { texts } = await referenceTokenize(dir, TEXTS);
    expect(body.usage).toEqual({ prompt_tokens: texts.flat().length, total_tokens: texts.flat().length });
    const ref = await runReference<{ embeddings: number[][] }>({ mode: 'embed', model: dir, inputs: texts, pooling: 'mean' });
    for (const [i, v] of floats.entries()) {
      expect(v).toHaveLength(HIDDEN);
      // The server runs the Q4_1 GGUF; its float32 conversion is the reference (same weights).
      expect(maxDiff(v, ref.embeddings[i])).toBeLessThan(1e-5);
    }
  });

  it('the openai client (base64 on the wire, decoded) gets the same vectors', async () => {
    const r = await client.embeddings.create({ model: MODEL, input: TEXTS });
    expect(r.data.map((d) => d.embedding)).toEqual(floats.map((v) => v.map((x) => Math.fround(x))));
    // One input alone, as floats and as base64: the same computation, so the same bits. (Alone it
    // may round differently than inside the batch above: a GPU picks kernels by the row count.)
    const alone = (await post('/v1/embeddings', { input: TEXTS[1] })).json() as { data: { embedding: number[] }[] };
    expect(maxDiff(alone.data[0].embedding, floats[1])).toBeLessThan(1e-6);
    const raw = await post('/v1/embeddings', { input: TEXTS[1], encoding_format: 'base64' });
    const b64 = (raw.json() as { data: { embedding: string }[] }).data[0].embedding;
    expect(typeof b64).toBe('string');
    expect(Array.from(new Float32Array(new Uint8Array(Buffer.from(b64, 'base64')).buffer))).toEqual(alone.data[0].embedding);
  });

  it('dimensions truncates and renormalises; token ids are taken as they are', async () => {
    const r = await client.embeddings.create({ model: MODEL, input: TEXTS[0], dimensions: 32, encoding_format: 'float' });
    const v = r.data[0].embedding;
    expect(v).toHaveLength(32);
    expect(norm(v)).toBeCloseTo(1, 5);
    const prefix = floats[0].slice(0, 32);
    expect(maxDiff(v, prefix.map((x) => x / norm(prefix)))).toBeLessThan(1e-6);

    const ids = (await post('/tokenize', { content: TEXTS[1] })).json() as { tokens: number[] };
    const byIds = await client.embeddings.create({ model: MODEL, input: [ids.tokens], encoding_format: 'float' });
    expect(maxDiff(byIds.data[0].embedding, floats[1])).toBeLessThan(1e-6);
    const one = await client.embeddings.create({ model: MODEL, input: ids.tokens, encoding_format: 'float' });
    expect(one.data).toHaveLength(1);
  });

  const bad: [string, unknown, string | null][] = [
    ['missing input', {}, 'input'],
    ['empty string', { input: '' }, 'input'],
    ['empty list', { input: [] }, 'input'],
    ['mixed list', { input: ['a', 1] }, 'input[1]'],
    ['negative token id', { input: [1, -2] }, 'input[1]'],
    ['token id outside the vocabulary', { input: [[1, 10_000_000]] }, 'input'],
    ['unknown encoding', { input: 'a', encoding_format: 'int8' }, 'encoding_format'],
    ['dimensions above the model', { input: 'a', dimensions: HIDDEN + 1 }, 'dimensions'],
    ['dimensions zero', { input: 'a', dimensions: 0 }, 'dimensions'],
  ];
  for (const [name, body, param] of bad) {
    it(`${name}: 400 naming '${param}'`, async () => {
      const res = await post('/v1/embeddings', body);
      expect(res.status).toBe(400);
      assertSchema('ErrorResponse', res.json());
      expect((res.json() as { error: { param: string | null } }).error.param).toBe(param);
    });
  }

  it('an unknown model is a 404', async () => {
    await expect(client.embeddings.create({ model: 'nope', input: 'a' })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });
});

describe('POST /tokenize and /detokenize', () => {
  const chat = [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Name a color.' },
  ];

  it('tokenizes text and chats as mlx-lm does, and detokenizes back', async () => {
    const ref = await referenceTokenize(await ensureFixtureF32(), TEXTS, [chat]);
    for (const [i, text] of TEXTS.entries()) {
      const res = await post('/tokenize', { content: text });
      expect(res.status).toBe(200);
      expect(res.json()).toEqual({ tokens: ref.texts[i] });
      const back = await post('/detokenize', { tokens: ref.texts[i] });
      expect(back.json()).toEqual({ content: text });
    }
    const templated = await post('/v1/tokenize', { messages: chat });
    expect(templated.json()).toEqual({ tokens: ref.chat[0] });
    // Without the generation prompt: the same tokens minus the opened assistant turn.
    const closed = (await post('/tokenize', { messages: chat, add_generation_prompt: false })).json() as { tokens: number[] };
    expect(closed.tokens.length).toBeLessThan(ref.chat[0].length);
    expect(ref.chat[0].slice(0, closed.tokens.length)).toEqual(closed.tokens);
  });

  const bad: [string, string, unknown, string | null][] = [
    ['neither content nor messages', '/tokenize', {}, null],
    ['both content and messages', '/tokenize', { content: 'a', messages: [{ role: 'user', content: 'a' }] }, null],
    ['a bad role', '/tokenize', { messages: [{ role: 'robot', content: 'a' }] }, 'messages[0].role'],
    ['no tokens field', '/detokenize', {}, 'tokens'],
    ['a token outside the vocabulary', '/detokenize', { tokens: [1, 10_000_000] }, 'tokens'],
    ['a non-integer token', '/detokenize', { tokens: [1.5] }, 'tokens[0]'],
  ];
  for (const [name, path, body, param] of bad) {
    it(`${path}, ${name}: 400 naming ${param}`, async () => {
      const res = await post(path, body);
      expect(res.status).toBe(400);
      assertSchema('ErrorResponse', res.json());
      expect((res.json() as { error: { param: string | null } }).error.param).toBe(param);
    });
  }
});
