/**
 * fastify error handlers: every thrown value answered in one API's error shape, logged, and
 * recorded in the request's log outcome. The app uses OpenAI's shape; the Anthropic routes
 * install Anthropic's in their own plugin scope.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { anthropicError, toHttpError } from './errors.js';

export type ErrorShape = 'openai' | 'anthropic';

/**
 * A handler for `app.setErrorHandler` that answers in `shape`.
 *
 * @example
 * app.setErrorHandler(errorHandler('anthropic'));
 */
export function errorHandler(shape: ErrorShape) {
  return (err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void => {
    const answer = toHttpError(err);
    if (answer.status >= 500) request.log.error({ err }, 'request failed');
    else request.log.debug({ err: err instanceof Error ? err.message : err }, 'request rejected');
    if (request.outcome && !request.outcome.errorCode) request.outcome.errorCode = answer.body.error.code ?? undefined;
    const body = shape === 'anthropic' ? anthropicError(answer) : answer.body;
    reply.code(answer.status).headers(answer.headers).send(body);
  };
}
