// How the server serves the playground (open without the key, off with --no-ui, nothing else
// shadowed), and the page's Markdown renderer, which must never let model output become markup.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine } from '../src/engine/engine.js';
import { buildApp, type AppOptions } from '../src/server/app.js';
import { parseServeArgs } from '../src/server/config.js';
import { ModelPool } from '../src/server/model-pool.js';
import { modelConfig } from '../src/server/models-config.js';
import { UI_DIR } from '../src/server/ui.js';
import { renderMarkdown } from '../ui/markdown.js';
import { parsePrometheus } from '../ui/metrics.js';

const options: AppOptions = {
  servedModelName: 'm',
  acceptAnyModel: false,
  maxTokensDefault: 16,
  cors: [],
  maxQueue: 4,
  bodyLimitBytes: 1 << 20,
  requestTimeoutMs: 10_000,
  headersTimeoutMs: 5_000,
};

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

// No model loads here (nothing asks for one): the page and its files do not need it.
const build = async (extra: Partial<AppOptions> = {}) =>
  (app = await buildApp({
    pool: new ModelPool([modelConfig({ name: 'm', path: 'm.gguf' })], { loader: createEngine(), budgetBytes: 2 ** 30 }),
    options: { ...options, ...extra },
  }));

describe('serving the playground', () => {
  it('serves the page and every file it loads, with a strict content security policy', async () => {
    const a = await build();
    const page = await a.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toMatch(/default-src 'self'/);
    expect(page.headers['content-security-policy']).toMatch(/connect-src 'self'/);
    // Every local file the page or a module references is served, as the right type.
    const files = readdirSync(UI_DIR);
    const referenced = new Set<string>();
    for (const f of files) {
      const text = readFileSync(join(UI_DIR, f), 'utf8');
      for (const m of text.matchAll(/(?:src|href)="([\w.-]+\.(?:js|css))"|from '\.\/([\w.-]+\.js)'/g)) referenced.add(m[1] ?? m[2]);
    }
    expect([...referenced].sort()).toEqual(files.filter((f) => /\.(js|css)$/.test(f)).sort());
    for (const f of referenced) {
      const res = await a.inject({ method: 'GET', url: `/${f}` });
      expect(res.statusCode, f).toBe(200);
      expect(res.headers['content-type'], f).toMatch(f.endsWith('.js') ? /javascript/ : /text\/css/);
    }
  });

  it('loads no code or style from another origin', () => {
    for (const f of readdirSync(UI_DIR)) {
      const text = readFileSync(join(UI_DIR, f), 'utf8');
      expect(text, f).not.toMatch(/(src|href)\s*=\s*["']?(https?:)?\/\//i);
      expect(text, f).not.toMatch(/@import|url\(\s*["']?(https?:)?\/\//i);
      expect(text, f).not.toMatch(/\bfrom\s+["']https?:/);
    }
  });

  it('keeps unknown paths and the API as they were', async () => {
    const a = await build();
    const missing = await a.inject({ method: 'GET', url: '/nope.js' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: 'not_found' } });
    // The API answers as without the playground: the configured model is listed, not yet loaded.
    const models = await a.inject({ method: 'GET', url: '/v1/models' });
    expect(models.statusCode).toBe(200);
    expect(models.json()).toMatchObject({ data: [{ id: 'm', state: 'unloaded' }] });
    expect((await a.inject({ method: 'GET', url: '/health' })).json()).toMatchObject({ state: 'loading' });
  });

  it('opens the page without the API key, and only the page', async () => {
    const a = await build({ apiKey: 'secret' });
    expect((await a.inject({ method: 'GET', url: '/' })).statusCode).toBe(200);
    expect((await a.inject({ method: 'GET', url: '/app.js' })).statusCode).toBe(200);
    expect((await a.inject({ method: 'GET', url: '/v1/models' })).statusCode).toBe(401);
    expect((await a.inject({ method: 'GET', url: '/models' })).statusCode).toBe(401);
    expect((await a.inject({ method: 'POST', url: '/v1/chat/completions', payload: {} })).statusCode).toBe(401);
    expect((await a.inject({ method: 'GET', url: '/nope.js' })).statusCode).toBe(401);
  });

  it('is off with --no-ui (or MLX_NATIVE_NO_UI)', async () => {
    const parsed = parseServeArgs(['--model', 'm.gguf', '--no-ui'], {});
    expect(!parsed.help && parsed.config.noUi).toBe(true);
    const fromEnv = parseServeArgs(['--model', 'm.gguf'], { MLX_NATIVE_NO_UI: 'true' });
    expect(!fromEnv.help && fromEnv.config.noUi).toBe(true);
    const byDefault = parseServeArgs(['--model', 'm.gguf'], {});
    expect(!byDefault.help && byDefault.config.noUi).toBe(false);

    const a = await build({ noUi: true });
    const page = await a.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(404);
    expect(page.json()).toMatchObject({ error: { code: 'not_found' } });
    expect((await a.inject({ method: 'GET', url: '/app.js' })).statusCode).toBe(404);
  });
});

describe('the playground’s Markdown', () => {
  it('renders code blocks, inline code, emphasis, lists, headings, tables and links', () => {
    const html = renderMarkdown(
      '# Title\n\nSome **bold**, *italic*, ~~gone~~ and `x < y`.\n\n```js\nconst a = 1;\n```\n\n- one\n- two\n  1. nested\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n[docs](https://example.com/a?b=1&c=2)',
    );
    expect(html).toContain('<h1>Title</h1>');
    expect(html).toContain('<strong>bold</strong>');
    expect(html).toContain('<em>italic</em>');
    expect(html).toContain('<del>gone</del>');
    expect(html).toContain('<code>x &lt; y</code>');
    expect(html).toContain('<code class="language-js">const a = 1;</code>');
    expect(html).toContain('<ul><li>one</li><li>two<ol><li>nested</li></ol></li></ul>');
    expect(html).toContain('<thead><tr><th>a</th><th>b</th></tr></thead><tbody><tr><td>1</td><td>2</td></tr></tbody>');
    expect(html).toContain('<a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">docs</a>');
  });

  it('renders an unfinished code fence (mid-stream) as code', () => {
    expect(renderMarkdown('Here:\n```py\nprint(1)')).toContain('<pre><code class="language-py">print(1)</code></pre>');
  });

  it('never turns model output into markup or script', () => {
    const attacks = [
      '<script>alert(1)</script>',
      '<img src=x onerror=alert(1)>',
      '[click](javascript:alert(1))',
      '[click](JAVASCRIPT:alert(1))',
      '[x](https://e.com/" onmouseover="alert(1))',
      '```"><script>alert(1)</script>\ncode\n```',
      '`<b>` **<i>x</i>**',
      '| <b>a</b> |\n|---|\n| <svg onload=alert(1)> |',
      'https://e.com/<script>',
    ];
    for (const source of attacks) {
      const html = renderMarkdown(source);
      expect(html, source).not.toMatch(/<(script|img|svg|i|b)[\s>]/i);
      expect(html, source).not.toMatch(/href="(?!https?:)/i);
      expect(html, source).not.toMatch(/\son\w+="/i);
    }
  });

  it('reads Prometheus text, summing labelled series', () => {
    const m = parsePrometheus('# HELP x\nmlx_native_queue_depth 2\nreq{route="/a"} 3\nreq{route="/b",status="200"} 4\nbad line\n');
    expect(m.get('mlx_native_queue_depth')).toBe(2);
    expect(m.get('req')).toBe(7);
  });
});
