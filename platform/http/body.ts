import express, { type Request, type RequestHandler } from 'express';
import { AppError } from './errors.ts';

export const DEFAULT_BODY_LIMIT = '64kb';

const JSON_TYPES = ['application/json', 'application/*+json'];

/** True when the request announces a body (a non-zero Content-Length or chunked encoding). */
export function hasBody(req: Request): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  return length !== undefined && length !== '0';
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * body-parser decodes leniently (an invalid byte sequence becomes U+FFFD and would be stored so);
 * a fatal decoder refuses it. The throw surfaces as `entity.verify.failed`, which the problem
 * middleware answers as 400 malformed_json.
 */
function requireUtf8(_req: unknown, _res: unknown, buf: Buffer): void {
  try {
    utf8.decode(buf);
  } catch {
    throw Object.assign(new Error('The request body is not valid UTF-8'), { invalidUtf8: true });
  }
}

/**
 * JSON body parsing for commands: a body that is not JSON → 415, over the limit (64 KiB) → 413,
 * malformed or not UTF-8 → 400 (both rendered by the problem middleware). A request without a body leaves
 * `req.body` undefined.
 */
export function jsonBody(opts: { limit?: string | number } = {}): RequestHandler[] {
  const requireJson: RequestHandler = (req, _res, next) => {
    if (hasBody(req) && !req.is(JSON_TYPES)) {
      next(
        new AppError(
          'unsupported_media_type',
          `Expected Content-Type application/json, got ${req.headers['content-type'] ?? 'none'}`,
        ),
      );
      return;
    }
    next();
  };
  return [
    requireJson,
    express.json({
      limit: opts.limit ?? DEFAULT_BODY_LIMIT,
      strict: true,
      type: JSON_TYPES,
      verify: requireUtf8,
    }),
  ];
}
