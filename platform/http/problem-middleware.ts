import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { currentContext } from '../context.ts';
import { AppError, toProblem } from './errors.ts';

/** Maps body-parser and other well-known client errors onto the catalogue. */
function classify(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const e = err as { type?: string; status?: number; expose?: boolean; message?: string };
  switch (e?.type) {
    case 'entity.parse.failed':
      return new AppError('malformed_json', 'The request body is not valid JSON');
    case 'entity.verify.failed':
      return new AppError('malformed_json', 'The request body is not valid UTF-8');
    case 'entity.too.large':
      return new AppError('payload_too_large', 'The request body exceeds the limit');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new AppError('unsupported_media_type', e.message);
    default:
      // A request path that is not valid percent-encoding (Express raises a URIError with status 400).
      if (err instanceof URIError) {
        return new AppError('bad_parameter', 'The request path is not valid percent-encoding');
      }
      if (e?.expose && typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
        return new AppError('validation_failed', e.message);
      }
      return new AppError('internal', undefined, { cause: err });
  }
}

/** The one renderer of errors: RFC 9457 problem+json, never a stack trace. */
export function problemMiddleware(logger: Logger, opts: { problemBase?: string } = {}): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const appError = classify(err);
    if (appError.code === 'internal') logger.error({ err }, 'unhandled error');
    const problem = toProblem(appError, req.originalUrl, currentContext()?.traceId, opts.problemBase);
    for (const [k, v] of Object.entries(appError.headers ?? {})) res.setHeader(k, v);
    res.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
  };
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new AppError('not_found', `No route for ${req.method} ${req.path}`));
};
