/**
 * Bearer API key check for the API routes; /health, /metrics, the playground's files
 * (routes with `config.openAccess`) and CORS preflights stay open.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { MlxNativeError } from '../errors.js';

const OPEN_ROUTES = new Set(['/health', '/metrics']);

// Hashing first gives equal-length inputs, so the comparison leaks neither content nor length.
const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * Adds an onRequest hook that answers 401 unless `Authorization: Bearer <apiKey>`.
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
    if (match && timingSafeEqual(digest(match[1].trim()), expected)) return;
    throw new MlxNativeError('UNAUTHORIZED', match ? 'Incorrect API key provided' : 'Missing API key: send "Authorization: Bearer <key>"');
  });
}
