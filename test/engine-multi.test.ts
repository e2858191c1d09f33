// The in-process API for several models: createEngine() holding the fixture GGUF and the MLX
// directory converted from it under two ids, generating from both at once, and the rest of
// its surface (list, info, warmup, tokenize/detokenize, unload, dispose, errors).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, loadModel, MlxNativeError, type Engine } from '../src/index.js';
import { FIXTURE } from './helpers/fixture.js';
import { ensureFixtureF32 } from './helpers/models.js';

const MESSAGES = [{ role: 'user' as const, content: 'Name a color.' }];

describe('createEngine with two models', () => {
  let engine: Engine;
  let mlxDir: string;

  beforeAll(async () => {
    mlxDir = await ensureFixtureF32();
    engine = createEngine();
    await Promise.all([engine.loadModel('gguf', FIXTURE, { maxBatch: 4 }), engine.loadModel('mlx', mlxDir, { kvBudgetBytes: 64 * 2 ** 20 })]);
  });
  afterAll(async () => {
    await engine?.dispose();
  });

  it('lists both models with their metadata', () => {
    const list = engine.listModels();
    expect(list.map((m) => [m.id, m.state, m.info?.format])).toEqual([
      ['gguf', 'loaded', 'gguf'],
      ['mlx', 'loaded', 'mlx'],
    ]);
    expect(engine.getModelInfo('mlx')).toMatchObject({ format: 'mlx', contextLength: 8192, architecture: 'llama' });
    expect(engine.has('gguf')).toBe(true);
  });

  it('generates from both at once, each as it does alone', async () => {
    const alone = {
      gguf: (await engine.chat('gguf', MESSAGES, { maxTokens: 12, temperature: 0 }).result).text,
      mlx: (await engine.chat('mlx', MESSAGES, { maxTokens: 12, temperature: 0 }).result).text,
    };
    const [a, b] = await Promise.all([
      engine.chat('gguf', MESSAGES, { maxTokens: 12, temperature: 0 }).result,
      engine.chat('mlx', MESSAGES, { maxTokens: 12, temperature: 0 }).result,
    ]);
    expect(a.text).toBe(alone.gguf);
    expect(b.text).toBe(alone.mlx);
    expect(a.text.length).toBeGreaterThan(0);
  });

  it('tokenizes and detokenizes with a model, and warms it up', async () => {
    const ids = engine.tokenize('gguf', 'The capital of France is');
    expect(ids.length).toBeGreaterThan(3);
    expect(engine.detokenize('mlx', ids)).toBe('The capital of France is');
    const warm = await engine.warmup('mlx');
    expect(warm.usage.completionTokens).toBe(1);
  });

  it('refuses a taken id and an unknown one with clear errors', async () => {
    await expect(engine.loadModel('gguf', FIXTURE)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', param: 'id' });
    expect(() => engine.generate('nope', 'Hi')).toThrow(MlxNativeError);
    expect(() => engine.generate('nope', 'Hi')).toThrow(/'nope' is not loaded/);
  });

  it('a failed load leaves the other models serving', async () => {
    await expect(engine.loadModel('missing', '/no/such/model.gguf')).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
    expect(engine.has('missing')).toBe(false);
    expect((await engine.generate('gguf', 'Hello', { maxTokens: 2 }).result).usage.completionTokens).toBeGreaterThan(0);
  });

  it('unloads one model, ending its running generations with abort, while the other keeps going', async () => {
    const running = engine.generate('mlx', 'Once upon a time', { maxTokens: 500, ignoreEos: true });
    const other = engine.generate('gguf', 'Once upon a time', { maxTokens: 16, ignoreEos: true });
    // Wait for its first chunk without ending the iteration (breaking out would abort it).
    await running[Symbol.asyncIterator]().next();
    expect(await engine.unloadModel('mlx')).toBe(true);
    expect((await running.result).finishReason).toBe('abort');
    const done = await other.result;
    expect(done.finishReason).toBe('length');
    expect(done.usage.completionTokens).toBe(16);
    expect(engine.listModels().map((m) => m.id)).toEqual(['gguf']);
    expect(await engine.unloadModel('mlx')).toBe(false);
    // The id is free again.
    await engine.loadModel('mlx', mlxDir);
    expect(engine.getModelInfo('mlx').format).toBe('mlx');
  });

  it('loads a model with its own chat template instead of the one in its file', async () => {
    const model = await engine.loadModel('plain', FIXTURE, { chatTemplate: '{% for m in messages %}{{ m.content }}{% endfor %}' });
    expect(model.chatTemplate.source).toContain('m.content');
    expect(model.detokenize(model.chatPromptTokens(MESSAGES))).toBe('Name a color.');
    // The model's own template is untouched for the other id loaded from the same file.
    expect(engine.model('gguf').detokenize(engine.model('gguf').chatPromptTokens(MESSAGES))).toContain('assistant');
    await engine.unloadModel('plain');
    await expect(engine.loadModel('bad-template', FIXTURE, { chatTemplate: '{% for %}' })).rejects.toMatchObject({ code: 'CHAT_TEMPLATE_ERROR' });
    expect(engine.has('bad-template')).toBe(false);
  });

  it('the single-model loadModel(path) keeps working beside it', async () => {
    await using model = await loadModel(FIXTURE);
    expect((await model.generate('Hello', { maxTokens: 2 }).result).usage.completionTokens).toBeGreaterThan(0);
  });

  it('dispose unloads everything and refuses later loads', async () => {
    const e = createEngine();
    await e.loadModel('a', FIXTURE);
    await e.dispose();
    expect(e.listModels()).toEqual([]);
    await expect(e.loadModel('b', FIXTURE)).rejects.toMatchObject({ code: 'DISPOSED' });
  });
});
