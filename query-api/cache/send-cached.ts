import type { Request, Response } from 'express';
import { encodedBody, etagMatches, pickEncoding } from './cached-response.ts';
import type { CacheResult } from './two-level-cache.ts';

export const STALE_HEADER = 'X-Data-Stale';

/**
 * Writes pre-serialised bytes: strong ETag, 304 on If-None-Match, compression when asked, and
 * a staleness signal when the data could not be refreshed (Redis down, or read-your-writes timed out).
 */
export function sendCached(
  req: Request,
  res: Response,
  result: CacheResult,
  opts: { maxAgeSeconds?: number; stale?: string } = {},
): void {
  const { entry, outcome } = result;
  res.setHeader('ETag', entry.etag);
  res.setHeader('Vary', 'Accept-Encoding');
  res.setHeader('Cache-Control', `public, max-age=${opts.maxAgeSeconds ?? 1}`);
  res.setHeader('X-Cache', outcome);
  const stale = opts.stale ?? (outcome === 'l1-stale-fallback' ? 'redis-unavailable' : undefined);
  if (stale) {
    res.setHeader(STALE_HEADER, stale);
    res.setHeader('Age', String(Math.max(0, Math.round((Date.now() - entry.createdAt) / 1000))));
  }
  if (etagMatches(req.headers['if-none-match'], entry.etag)) {
    res.status(304).end();
    return;
  }
  const encoding = pickEncoding(req.headers['accept-encoding'], entry.body.length);
  const bytes = encodedBody(entry, encoding);
  res.setHeader('Content-Type', entry.contentType);
  if (encoding !== 'identity') res.setHeader('Content-Encoding', encoding);
  res.setHeader('Content-Length', String(bytes.length));
  res.status(200).end(bytes);
}
