// Headless Chromium from the system packages, driven by puppeteer-core (which downloads no browser).
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

/**
 * The browser: MLX_NATIVE_CHROMIUM when set, else where Debian's `chromium` package puts it
 * (CI), else the usual Chrome or Chromium of a developer's Mac.
 */
const CANDIDATES = process.env.MLX_NATIVE_CHROMIUM
  ? [process.env.MLX_NATIVE_CHROMIUM]
  : [
      '/usr/bin/chromium',
      '/Applications/Chromium.app/Contents/MacOS/Chromium',
      '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
    ];
export const CHROMIUM = CANDIDATES.find((p) => existsSync(p)) ?? CANDIDATES[0];

/** Screenshots of test runs (git-ignored). */
export const SCREENSHOTS = fileURLToPath(new URL('../../test-results/', import.meta.url));

/**
 * Launches headless Chromium. A missing browser fails the test with how to install it: the
 * browser tests are part of the suite, not optional.
 */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `The playground's browser test needs Chromium, and there is none at ${CANDIDATES.join(' or ')}.\n` +
        'Install it:  sudo apt-get install chromium   (Debian/Ubuntu; .ci/run installs it)\n' +
        'or point MLX_NATIVE_CHROMIUM at a Chrome/Chromium binary, e.g. on macOS\n' +
        '  MLX_NATIVE_CHROMIUM="/Applications/Google Chrome.app/Contents/MacOS/Google Chrome"',
    );
  }
  mkdirSync(SCREENSHOTS, { recursive: true });
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // CI runs as root, where Chromium's sandbox cannot start.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run'],
  });
}

/** A page that fails the test on any script error, and records every URL it requests. */
export async function openPage(browser: Browser, url: string, width = 1400, height = 900): Promise<{ page: Page; requested: string[]; errors: string[] }> {
  const page = await browser.newPage();
  await page.setViewport({ width, height });
  const requested: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => requested.push(r.url()));
  page.on('pageerror', (e) => errors.push((e as Error).message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 40[14]/.test(m.text())) errors.push(m.text());
  });
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  return { page, requested, errors };
}

/** Sets a settings control as a person would: its value, then an input event. */
export async function setControl(page: Page, name: string, value: string): Promise<void> {
  await page.$eval(
    `#settings-form [name="${name}"]`,
    (el, v) => {
      (el as HTMLInputElement).value = v;
      el.dispatchEvent(new Event('input', { bubbles: true }));
    },
    value,
  );
}
