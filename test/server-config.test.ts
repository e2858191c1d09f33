// `serve` configuration: flags, their environment variables, defaults and clear errors.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, defaultMemoryBudget, FLAGS, parseServeArgs, serveHelp, type ServeConfig } from '../src/server/config.js';

function config(argv: string[], env: NodeJS.ProcessEnv = {}): ServeConfig {
  const parsed = parseServeArgs(argv, env);
  if (parsed.help) throw new Error('unexpected --help');
  return parsed.config;
}

describe('serve configuration', () => {
  it('has safe defaults: loopback, port 8080, no key, no CORS', () => {
    const c = config(['--model', 'models/SmolLM2-135M-Instruct.Q4_1.gguf']);
    expect(c).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      apiKey: undefined,
      cors: [],
      acceptAnyModel: false,
      servedModelName: 'SmolLM2-135M-Instruct.Q4_1',
      // Below the 10 s a supervisor waits between SIGTERM and SIGKILL.
      shutdownTimeoutMs: 5_000,
      idleTtlMs: 0,
    });
    expect(c.models).toEqual([
      expect.objectContaining({ name: 'SmolLM2-135M-Instruct.Q4_1', path: 'models/SmolLM2-135M-Instruct.Q4_1.gguf', preload: true, pinned: false }),
    ]);
    // Left to the device (serve asks MLX) unless set.
    expect(c.memoryBudgetBytes).toBeUndefined();
  });

  it('reads every flag from its environment variable, and a flag wins over it', () => {
    const env = {
      MLX_NATIVE_MODEL: '/m/Model-Dir/',
      MLX_NATIVE_HOST: '0.0.0.0',
      MLX_NATIVE_PORT: '9000',
      MLX_NATIVE_API_KEY: 'k',
      MLX_NATIVE_CORS: 'http://a.example, http://b.example',
      MLX_NATIVE_MAX_QUEUE: '4',
      MLX_NATIVE_ACCEPT_ANY_MODEL: 'true',
      MLX_NATIVE_SHUTDOWN_TIMEOUT: '2.5',
    };
    const c = config([], env);
    expect(c.models[0].path).toBe('/m/Model-Dir/');
    expect(c).toMatchObject({
      servedModelName: 'Model-Dir',
      host: '0.0.0.0',
      port: 9000,
      apiKey: 'k',
      cors: ['http://a.example', 'http://b.example'],
      maxQueue: 4,
      acceptAnyModel: true,
      shutdownTimeoutMs: 2500,
    });
    expect(config(['--port', '7000'], env).port).toBe(7000);
  });

  it('documents an environment variable for every option', () => {
    const help = serveHelp();
    for (const f of FLAGS) {
      expect(help).toContain(`--${f.flag}`);
      if (f.key !== 'help') expect(help).toContain(f.env!);
    }
  });

  it('explains bad values and unknown flags', () => {
    expect(() => config([])).toThrow(/--model \(MLX_NATIVE_MODEL\): a model is required/);
    expect(() => config(['--model', 'm', '--port', '70000'])).toThrow(ConfigError);
    expect(() => config(['--model', 'm', '--max-queue', 'lots'])).toThrow(/--max-queue/);
    expect(() => config(['--model', 'm', '--bogus'])).toThrow(ConfigError);
    expect(() => config(['--model', 'm', '--dtype', 'float64'])).toThrow(/--dtype \(MLX_NATIVE_DTYPE\): "float64" is not one of float32, float16, bfloat16/);
  });

  it('keeps the headers timeout within the request timeout', () => {
    expect(config(['--model', 'm', '--request-timeout', '3']).headersTimeoutMs).toBe(3000);
  });

  it('takes several models as --model NAME=PATH and from a models file, with per-model options', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mlx-native-config-'));
    await writeFile(join(dir, 't.jinja'), '{{ messages[0].content }}');
    const yaml = [
      'memory_budget: 8GiB',
      'idle_ttl: 60',
      'models:',
      '  qwen:',
      '    path: qwen.gguf',
      '    aliases: [q, default-chat]',
      '    context_length: 4096',
      '    max_slots: 8',
      '    kv_budget: 1.5GiB',
      '    prefix_cache: 256MiB',
      '    chat_template_file: t.jinja',
      '    dtype: bfloat16',
      '    pinned: true',
      '  llama:',
      '    path: /abs/llama',
      '    idle_ttl: 0',
    ].join('\n');
    await writeFile(join(dir, 'models.yaml'), yaml);
    const c = config(['--model', 'a=/m/a.gguf', '--model', 'b=/m/b', '--models-file', join(dir, 'models.yaml'), '--max-slots', '3', '--dtype', 'float32']);
    expect(c.models.map((m) => m.name)).toEqual(['a', 'b', 'qwen', 'llama']);
    expect(c.servedModelName).toBe('a');
    expect(c.memoryBudgetBytes).toBe(8 * 2 ** 30);
    expect(c.models[0]).toMatchObject({ path: '/m/a.gguf', preload: true, maxBatch: 3, dtype: 'float32', idleTtlMs: 0 });
    expect(c.models[2]).toMatchObject({
      path: join(dir, 'qwen.gguf'),
      aliases: ['q', 'default-chat'],
      contextLength: 4096,
      maxBatch: 8,
      kvBudgetBytes: 1.5 * 2 ** 30,
      prefixCacheBytes: 256 * 2 ** 20,
      chatTemplate: '{{ messages[0].content }}',
      dtype: 'bfloat16',
      pinned: true,
      preload: true,
      idleTtlMs: 60_000,
    });
    expect(c.models[3]).toMatchObject({ path: '/abs/llama', pinned: false, preload: false, idleTtlMs: 0, maxBatch: 3 });
    expect(config(['--models-file', join(dir, 'models.yaml'), '--memory-budget', '50%']).memoryBudgetBytes).toBe(Math.round(totalmem() / 2));

    await writeFile(join(dir, 'dup.json'), JSON.stringify({ models: [{ name: 'x', path: 'a' }, { name: 'y', path: 'b', aliases: ['x'] }] }));
    expect(() => config(['--models-file', join(dir, 'dup.json')])).toThrow(/'x' is used twice/);
    await writeFile(join(dir, 'bad.yaml'), 'models:\n  - path: a\n    kv_budget: lots\n');
    expect(() => config(['--models-file', join(dir, 'bad.yaml')])).toThrow(/models\.0\.kv_budget: "lots" is not a size/);
    await writeFile(join(dir, 'extra.yaml'), 'models:\n  - path: a\n    temperature: 2\n');
    expect(() => config(['--models-file', join(dir, 'extra.yaml')])).toThrow(/temperature/);
    expect(() => config(['--models-file', join(dir, 'missing.yaml')])).toThrow(/cannot read/);
    expect(() => config(['--model', 'a', '--model', 'b', '--served-model-name', 'x'])).toThrow(/--served-model-name/);
  });

  it('accepts the flags of an MLX server command line and validates their values', () => {
    const c = config(['--model', '/m/dir', '--host', '0.0.0.0', '--port', '9000', '--max-slots', '4', '--tool-call-format', 'mistral', '--reasoning', 'off']);
    expect(c).toMatchObject({ host: '0.0.0.0', port: 9000, maxBatch: 4, toolCallFormat: 'mistral', reasoning: 'off' });
    expect(c.models[0].maxBatch).toBe(4);
    expect(config(['--model', 'm', '--max-batch', '2', '--max-slots', '9']).maxBatch).toBe(2);
    expect(() => config(['--model', 'm', '--tool-call-format', 'yaml'])).toThrow(/--tool-call-format .*"yaml" is not one of auto, hermes/);
    expect(() => config(['--model', 'm', '--reasoning', 'maybe'])).toThrow(/--reasoning .*"maybe" is not one of auto, prefilled, off/);
    expect(() => config(['--model', 'm', '--memory-budget', '0'])).toThrow(/--memory-budget/);
  });

  it('takes the default memory budget from the device', () => {
    const GiB = 2 ** 30;
    expect(defaultMemoryBudget({ device: 'gpu', memoryBytes: 64 * GiB, recommendedWorkingSetBytes: 48 * GiB }, 64 * GiB)).toBe(48 * GiB);
    expect(defaultMemoryBudget({ device: 'gpu', memoryBytes: 140 * GiB, recommendedWorkingSetBytes: 0 }, 128 * GiB)).toBe(Math.round(126 * GiB));
    expect(defaultMemoryBudget({ device: 'cpu', memoryBytes: 0, recommendedWorkingSetBytes: 0 }, 8 * GiB)).toBe(6 * GiB);
  });

  it("takes mlx-server's --tool-call-format and --reasoning values, and refuses others by flag", () => {
    expect(config(['--model', 'm'])).toMatchObject({ toolCallFormat: undefined, reasoning: 'auto' });
    expect(config(['--model', 'm', '--tool-call-format', 'json', '--reasoning', 'prefilled'])).toMatchObject({ toolCallFormat: 'llama3', reasoning: 'prefilled' });
    expect(config(['--model', 'm', '--tool-call-format', 'qwen']).toolCallFormat).toBe('hermes');
    expect(config(['--model', 'm', '--tool-call-format', 'auto']).toolCallFormat).toBeUndefined();
    expect(config(['--model', 'm'], { MLX_NATIVE_TOOL_CALL_FORMAT: 'mistral', MLX_NATIVE_REASONING: 'off' })).toMatchObject({ toolCallFormat: 'mistral', reasoning: 'off' });
    expect(() => config(['--model', 'm', '--tool-call-format', 'xml'])).toThrow(/--tool-call-format \(MLX_NATIVE_TOOL_CALL_FORMAT\)/);
    expect(() => config(['--model', 'm', '--reasoning', 'maybe'])).toThrow(/--reasoning \(MLX_NATIVE_REASONING\)/);
  });
});
