/**
 * API key check for the API routes: `Authorization: Bearer <key>` (OpenAI's clients) or
 * `x-api-key: <key>` (Anthropic's). /health, /metrics, the playground's files (routes with
 * `config.openAccess`) and CORS preflights stay open.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { MlxNativeError } from '../errors.js';

const OPEN_ROUTES = new Set(['/health', '/metrics']);

// Hashing first gives equal-length inputs, so the comparison leaks neither content nor length.
const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * Adds an onRequest hook that answers 401 unless the request carries `apiKey` in either header.
 *
 * @example
 * registerAuth(app, process.env.MLX_NATIVE_API_KEY!);
 */
export function registerAuth(app: FastifyInstance, apiKey: string): void {
  const expected = digest(apiKey);
  app.addHook('onRequest', async (request) => {
    if (request.method === 'OPTIONS') return;
    const route = request.routeOptions.url;
    if (route && OPEN_ROUTES.has(route)) return;
    if (request.routeOptions.config?.openAccess) return;
    const match = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '');
    const header = request.headers['x-api-key'];
    const keys = [match?.[1].trim(), typeof header === 'string' ? header.trim() : undefined].filter((k) => k !== undefined);
    if (keys.some((k) => timingSafeEqual(digest(k), expected))) return;
    throw new MlxNativeError(
      'UNAUTHORIZED',
      keys.length > 0 ? 'Incorrect API key provided' : 'Missing API key: send "Authorization: Bearer <key>" or "x-api-key: <key>"',
    );
  });
}
