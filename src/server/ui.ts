/**
 * The playground: the static page under ui/ (plain modules and CSS, nothing to build), served
 * at `/`. Its routes are open without the API key, so the page can load and then ask for it.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without the API key (the playground's files). */
    openAccess?: boolean;
  }
}

/** ui/ at the package root: dist/server/ui.js (and src/server/ui.ts) are two levels below it. */
export const UI_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'ui');

// Everything the page loads comes from this server: no inline script, no other origin.
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Serves ui/ at `/` (index.html for `/`). Only the files that exist are routes; any other
 * path falls through to the app's JSON 404.
 *
 * @example
 * if (!options.noUi) await registerUi(app);
 */
export async function registerUi(app: FastifyInstance): Promise<void> {
  if (!existsSync(join(UI_DIR, 'index.html'))) {
    app.log.warn({ dir: UI_DIR }, 'the playground files are missing; serving the API only');
    return;
  }
  await app.register(async (scope) => {
    scope.addHook('onRoute', (route) => {
      route.config = { ...route.config, openAccess: true };
    });
    await scope.register(fastifyStatic, {
      root: UI_DIR,
      prefix: '/',
      wildcard: false,
      index: 'index.html',
      cacheControl: false,
      setHeaders: (res) => {
        res.setHeader('cache-control', 'no-cache');
        res.setHeader('content-security-policy', CSP);
        res.setHeader('x-content-type-options', 'nosniff');
      },
    });
  });
}
