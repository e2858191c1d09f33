/**
 * The JSON body parser. It replaces fastify's so that bytes that are not valid UTF-8 are a 400
 * (the default decoder would quietly turn them into U+FFFD and pass them to the model).
 */
import type { FastifyInstance } from 'fastify';
import { invalidParam } from './errors.js';

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Installs the parser for application/json (any parameters, e.g. charset). */
export function registerJsonBody(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    const bytes = body as Buffer;
    if (bytes.length === 0) {
      done(invalidParam(null, 'Request body is empty: expected a JSON object', 'invalid_json'), undefined);
      return;
    }
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch {
      done(invalidParam(null, 'Request body is not valid UTF-8', 'invalid_encoding'), undefined);
      return;
    }
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(invalidParam(null, `Request body is not valid JSON: ${(err as Error).message}`, 'invalid_json'), undefined);
    }
  });
}
