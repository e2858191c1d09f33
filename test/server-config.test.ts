// `serve` configuration: flags, their environment variables, defaults and clear errors.
import { describe, expect, it } from 'vitest';
import { ConfigError, FLAGS, parseServeArgs, serveHelp, type ServeConfig } from '../src/server/config.js';

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
      shutdownTimeoutMs: 30_000,
    });
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
    expect(c).toMatchObject({
      model: '/m/Model-Dir/',
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
  });

  it('keeps the headers timeout within the request timeout', () => {
    expect(config(['--model', 'm', '--request-timeout', '3']).headersTimeoutMs).toBe(3000);
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
