// The playground in a real browser: headless Chromium (Debian's package) on a real server with
// the fixture model. Screenshots land in test-results/.
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderMarkdown } from '../ui/markdown.js';
import { launchBrowser, openPage, SCREENSHOTS, setControl } from './helpers/browser.js';
import { FIXTURE } from './helpers/fixture.js';
import { eventually, readMetrics, request, startServer, type ServerProcess } from './helpers/server.js';

let server: ServerProcess;
let keyed: ServerProcess;
let browser: Browser;
let modelId: string;
const KEY = 'playground-secret';

beforeAll(async () => {
  // The browser first: without it the test fails at once, with how to install it.
  browser = await launchBrowser();
  [server, keyed] = await Promise.all([startServer(), startServer(['--api-key', KEY])]);
  modelId = ((await request(server.url, 'GET', '/v1/models')).json() as { data: { id: string }[] }).data[0].id;
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([server?.stop(), keyed?.stop()]);
});

const answers = (page: Page) => page.$$eval('#messages .msg.assistant', (els) => els.length);
const lastAnswer = (page: Page) =>
  page.$$eval('#messages .msg.assistant', (els) => {
    const el = els[els.length - 1];
    return {
      state: el?.getAttribute('data-state') ?? '',
      text: el?.querySelector('.msg-body')?.textContent ?? '',
      html: el?.querySelector('.msg-body')?.innerHTML ?? '',
      meta: Object.fromEntries([...(el?.querySelectorAll('[data-stat]') ?? [])].map((s) => [s.getAttribute('data-stat'), s.textContent])),
    };
  });

async function ready(page: Page): Promise<void> {
  await page.waitForFunction(() => (document.querySelector('#model') as HTMLSelectElement).options.length > 0, { timeout: 60_000 });
}

async function send(page: Page, text: string): Promise<void> {
  await recordAnswers(page);
  await page.focus('#input');
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

/**
 * Records, inside the page, the newest answer's state and text length after every change the
 * page makes to it (each rendered update), so fast streams are seen as well as slow ones.
 */
async function recordAnswers(page: Page): Promise<void> {
  await page.evaluate(() => {
    const seen: { state: string; length: number }[] = [];
    const g = globalThis as unknown as { seen: typeof seen; observer?: MutationObserver };
    g.observer?.disconnect();
    g.seen = seen;
    const messages = document.querySelector('#messages')!;
    g.observer = new MutationObserver(() => {
      const answers = messages.querySelectorAll('.msg.assistant');
      const last = answers[answers.length - 1];
      if (!last) return;
      const entry = { state: last.getAttribute('data-state') ?? '', length: last.querySelector('.msg-body')?.textContent?.length ?? 0 };
      const prev = seen[seen.length - 1];
      if (!prev || prev.state !== entry.state || prev.length !== entry.length) seen.push(entry);
    });
    g.observer.observe(messages, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['data-state'] });
  });
}

/** Waits for the newest answer to settle; returns the text lengths it streamed through and its states. */
async function watchAnswer(page: Page, timeoutMs = 90_000): Promise<{ lengths: number[]; states: string[] }> {
  await page.waitForFunction(
    () => ['done', 'stopped', 'error'].includes([...document.querySelectorAll('#messages .msg.assistant')].at(-1)?.getAttribute('data-state') ?? ''),
    { timeout: timeoutMs, polling: 50 },
  );
  const seen = (await page.evaluate(() => (globalThis as unknown as { seen?: { state: string; length: number }[] }).seen ?? [])) as { state: string; length: number }[];
  const lengths = [...new Set(seen.filter((e) => e.state === 'streaming').map((e) => e.length))];
  const states = seen.map((e) => e.state).filter((st, i, all) => st !== all[i - 1]);
  return { lengths, states };
}

describe('playground', () => {
  it('loads from the server alone, streams an answer token by token, and ends with the API’s answer', async () => {
    const { page, requested, errors } = await openPage(browser, `${server.url}/`);
    await ready(page);
    await setControl(page, 'temperature', '0');
    await setControl(page, 'max_tokens', '40');
    const question = 'What is the capital of France?';
    await send(page, question);
    const { lengths, states } = await watchAnswer(page);
    const answer = await lastAnswer(page);
    expect(states).toEqual(['waiting', 'streaming', 'done']);
    // Tokens arrived over several updates, each longer, before the final answer.
    expect(lengths.length).toBeGreaterThan(2);
    expect(lengths).toEqual([...lengths].sort((a, b) => a - b));
    expect(lengths[0]).toBeLessThan(answer.text.length);

    // The same request through the API, not streamed: the page shows exactly that answer.
    const reference = await request(server.url, 'POST', '/v1/chat/completions', {
      body: { model: modelId, messages: [{ role: 'user', content: question }], temperature: 0, max_tokens: 40 },
    });
    const ref = reference.json() as { choices: { message: { content: string } }[]; usage: { completion_tokens: number } };
    expect(answer.html).toBe(renderMarkdown(ref.choices[0].message.content));
    expect(answer.meta.tokens).toBe(`${ref.usage.completion_tokens} tokens`);
    expect(answer.meta.ttft).toMatch(/^TTFT \d+ ms$/);
    expect(answer.meta.tps).toMatch(/^\d+\.\d tok\/s$/);

    // The metrics panel shows the server's own figures. It polls every second, so a poll made
    // while the answer was still streaming may show fewer tokens: wait for one made after it.
    await page.waitForFunction(() => document.querySelector('[data-metric="requests"]')?.textContent !== '—');
    await page
      .waitForFunction((n) => Number(document.querySelector('[data-metric="tokens"]')?.textContent) >= n, { timeout: 10_000 }, ref.usage.completion_tokens)
      .catch(() => undefined); // the expectation below says what was shown
    const shown = await page.$eval('[data-metric="tokens"]', (el) => Number(el.textContent));
    expect(shown).toBeGreaterThanOrEqual(ref.usage.completion_tokens);
    expect(await page.$eval('[data-metric="mem-active"]', (el) => el.textContent)).toMatch(/\d+(\.\d)? (KiB|MiB|GiB)/);

    // Nothing came from anywhere but this server (no CDN): the page works offline.
    expect(requested.length).toBeGreaterThan(5);
    for (const url of requested) expect(url.startsWith(`${server.url}/`) || url.startsWith('data:')).toBe(true);
    expect(errors).toEqual([]);
    await page.screenshot({ path: join(SCREENSHOTS, 'playground.png') });
    await page.close();
  });

  it('stops a generation mid-stream and regenerates in place', async () => {
    const { page, errors } = await openPage(browser, `${server.url}/`);
    await ready(page);
    await setControl(page, 'temperature', '0.8');
    await setControl(page, 'max_tokens', '400');
    const before = await readMetrics(server.url, ['mlx_native_requests_cancelled_total{reason="client_disconnect"}']);
    await send(page, 'Write a long story about a dragon who learns to bake bread.');
    await page.waitForFunction(
      () => (document.querySelector('#messages .msg.assistant .msg-body')?.textContent ?? '').length > 20 &&
        document.querySelector('#messages .msg.assistant')?.getAttribute('data-state') === 'streaming',
      { timeout: 120_000, polling: 20 },
    );
    expect(await page.$eval('#stop', (el) => (el as HTMLElement).hidden)).toBe(false);
    await page.click('#stop');
    await page.waitForFunction(() => document.querySelector('#messages .msg.assistant')?.getAttribute('data-state') === 'stopped', { timeout: 5000 });
    const stopped = await lastAnswer(page);
    expect(stopped.meta.finish).toBe('stopped');
    expect(stopped.text.length).toBeGreaterThan(20);
    expect(await page.$eval('#send', (el) => (el as HTMLElement).hidden)).toBe(false);
    // The server saw the disconnect and stopped generating: nothing more arrives.
    const stoppedOnServer = await eventually(async () => {
      const now = await readMetrics(server.url, ['mlx_native_requests_cancelled_total{reason="client_disconnect"}', 'mlx_native_active_sequences']);
      return now['mlx_native_requests_cancelled_total{reason="client_disconnect"}'] === before['mlx_native_requests_cancelled_total{reason="client_disconnect"}'] + 1 && now.mlx_native_active_sequences === 0;
    }, 10_000);
    expect(stoppedOnServer).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    expect((await lastAnswer(page)).text).toBe(stopped.text);
    await page.screenshot({ path: join(SCREENSHOTS, 'playground-stopped.png') });

    // Regenerate replaces the stopped answer with a new one (stopped again, to keep the test short).
    await page.click('#messages .msg.assistant.latest .regenerate');
    await page.waitForFunction(
      () => (document.querySelector('#messages .msg.assistant .msg-body')?.textContent ?? '').length > 5 &&
        document.querySelector('#messages .msg.assistant')?.getAttribute('data-state') === 'streaming',
      { timeout: 120_000, polling: 20 },
    );
    expect(await answers(page)).toBe(1);
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => document.querySelector('#messages .msg.assistant')?.getAttribute('data-state') === 'stopped', { timeout: 5000 });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('lists the models of a server that serves two, loads the chosen one on demand and sends it', async () => {
    // Two names for the fixture file; the second is unloaded, so its first request loads it.
    const two = await startServer([], { modelArgs: ['--model', `first=${FIXTURE}`, '--model', `second=${FIXTURE}`] });
    try {
      expect((await request(two.url, 'POST', '/v1/models/second/unload')).status).toBe(200);
      const { page } = await openPage(browser, `${two.url}/`);
      await ready(page);
      const options = () => page.$$eval('#model option', (els) => els.map((o) => [(o as HTMLOptionElement).value, o.textContent]));
      await page.waitForFunction(() => document.querySelectorAll('#model option').length === 2, { timeout: 30_000 });
      expect(await options()).toEqual([
        ['first', 'first'],
        ['second', 'second (unloaded)'],
      ]);
      const sentModels: string[] = [];
      page.on('request', (r) => {
        if (r.url().endsWith('/v1/chat/completions')) sentModels.push((JSON.parse(r.postData() ?? '{}') as { model: string }).model);
      });

      await setControl(page, 'max_tokens', '4');
      await page.select('#model', 'second');
      await send(page, 'Hello');
      expect((await watchAnswer(page)).states.at(-1)).toBe('done');
      const listed = (await request(two.url, 'GET', '/v1/models')).json() as { data: { id: string; state: string }[] };
      expect(listed.data.find((m) => m.id === 'second')?.state).toBe('loaded');

      await page.select('#model', 'first');
      await send(page, 'Hello again');
      expect((await watchAnswer(page)).states.at(-1)).toBe('done');
      expect(sentModels).toEqual(['second', 'first']);
      // The choice survives a reload; both are loaded now.
      await page.reload({ waitUntil: 'domcontentloaded' });
      await page.waitForFunction(() => document.querySelectorAll('#model option').length === 2, { timeout: 30_000 });
      expect(await options()).toEqual([
        ['first', 'first'],
        ['second', 'second'],
      ]);
      expect(await page.$eval('#model', (el) => (el as HTMLSelectElement).value)).toBe('first');
      await page.screenshot({ path: join(SCREENSHOTS, 'playground-two-models.png') });
      await page.close();
    } finally {
      await two.stop();
    }
  });

  it('loads without the API key, asks for it on 401, and keeps it', async () => {
    const { page, errors } = await openPage(browser, `${keyed.url}/`);
    await page.waitForSelector('#key-dialog[open]', { timeout: 30_000 });
    expect(await page.$eval('#key-message', (el) => el.textContent)).toMatch(/Missing API key/);
    await page.type('#key-input', 'wrong-key');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => /Incorrect API key/.test(document.querySelector('#key-message')?.textContent ?? ''), { timeout: 30_000 });
    await page.$eval('#key-input', (el) => ((el as HTMLInputElement).value = ''));
    await page.type('#key-input', KEY);
    await page.click('#key-save');
    await ready(page);
    expect(await page.evaluate(() => localStorage.getItem('mlx-native:apiKey'))).toBe(KEY);
    await setControl(page, 'max_tokens', '8');
    await send(page, 'Hi');
    expect((await watchAnswer(page)).states.at(-1)).toBe('done');

    // Dark theme, and the key is remembered after a reload: no prompt this time.
    await page.click('#theme');
    await page.reload({ waitUntil: 'domcontentloaded' });
    await ready(page);
    expect(await page.$('#key-dialog[open]')).toBeNull();
    expect(await page.$eval('html', (el) => el.dataset.theme)).toBe(await page.evaluate(() => localStorage.getItem('mlx-native:theme')));
    await send(page, 'Show a JavaScript function that adds two numbers, in a code block.');
    await watchAnswer(page);
    await page.screenshot({ path: join(SCREENSHOTS, 'playground-theme.png') });
    expect(errors).toEqual([]);
    await page.close();
  });
});
