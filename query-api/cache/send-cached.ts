import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  encodedBody,
  etagFor,
  etagMatches,
  pickEncoding,
  type CachedResponse,
  type Encoding,
} from './cached-response.ts';

export const STALE_HEADER = 'X-Data-Stale';

/**
 * The headers of a plain 200 (no staleness, default max-age) for one encoding and X-Cache value,
 * as one flat array built once per entry: the fast path's answer is then one writeHead and one
 * end, with no per-request header validation.
 */
function plainHeaders(entry: CachedResponse, encoding: Encoding, outcome: string, etag: string): string[] {
  const id = `${encoding}:${outcome}`;
  entry.headers ??= new Map();
  let headers = entry.headers.get(id);
  if (!headers) {
    const bytes = encodedBody(entry, encoding);
    headers = [
      'ETag', etag,
      'Vary', 'Accept-Encoding',
      'Cache-Control', 'public, max-age=1',
      'X-Cache', outcome,
      'Content-Type', entry.contentType,
      ...(encoding === 'identity' ? [] : ['Content-Encoding', encoding]),
      'Content-Length', String(bytes.length),
    ]; // prettier-ignore
    entry.headers.set(id, headers);
  }
  return headers;
}

/**
 * Writes pre-serialised bytes: strong ETag, 304 on If-None-Match, compression when asked, and
 * a staleness signal when the data could not be refreshed (Redis down, or read-your-writes timed
 * out). Plain node:http types, so the Express routes and the fast path share it.
 */
export function sendCached(
  req: IncomingMessage,
  res: ServerResponse,
  entry: CachedResponse,
  opts: { outcome: string; maxAgeSeconds?: number; stale?: string | undefined },
): void {
  const encoding = pickEncoding(req.headers['accept-encoding'], entry.body.length);
  const etag = etagFor(entry, encoding);
  const notModified = etagMatches(req.headers['if-none-match'], etag);
  if (!notModified && !opts.stale && opts.maxAgeSeconds === undefined) {
    res.writeHead(200, plainHeaders(entry, encoding, opts.outcome, etag));
    res.end(encodedBody(entry, encoding));
    return;
  }
  res.setHeader('ETag', etag);
  res.setHeader('Vary', 'Accept-Encoding');
  res.setHeader('Cache-Control', `public, max-age=${opts.maxAgeSeconds ?? 1}`);
  res.setHeader('X-Cache', opts.outcome);
  if (opts.stale) {
    res.setHeader(STALE_HEADER, opts.stale);
    res.setHeader('Age', String(Math.max(0, Math.round((Date.now() - entry.createdAt) / 1000))));
  }
  if (notModified) {
    res.statusCode = 304;
    res.end();
    return;
  }
  const bytes = encodedBody(entry, encoding);
  res.setHeader('Content-Type', entry.contentType);
  if (encoding !== 'identity') res.setHeader('Content-Encoding', encoding);
  res.setHeader('Content-Length', bytes.length);
  res.statusCode = 200;
  res.end(bytes);
}
