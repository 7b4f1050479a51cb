import { createHash } from 'node:crypto';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

/**
 * A response body serialised once and served many times: bytes, a strong ETag, and compressed
 * variants made on first demand. `deps` are the Redis keys it was read from, so a change to any
 * of them evicts it on every instance.
 */
export interface CachedResponse {
  body: Buffer;
  etag: string;
  contentType: string;
  deps: readonly string[];
  createdAt: number;
  /** Set when a Redis key it depends on changed; the next read must refetch (unless Redis is down). */
  invalidated: boolean;
  /** The resource does not exist (a cached 404, invalidated like any other entry). */
  missing: boolean;
  gzip?: Buffer;
  br?: Buffer;
  /** How to reload it (set by TwoLevelCache): the fast path refreshes an expired entry behind itself. */
  refresh?: { load: () => Promise<CachedResponse>; opts: { ttlMs?: number; settleMs?: number } };
  /** The response headers of a plain 200 per encoding and X-Cache value, built once (send-cached.ts). */
  headers?: Map<string, string[]>;
}

export function makeCachedResponse(
  payload: unknown,
  deps: readonly string[],
  now = Date.now(),
  missing = false,
): CachedResponse {
  const body = Buffer.from(JSON.stringify(payload));
  return {
    body,
    etag: `"${createHash('sha1').update(body).digest('base64url')}"`,
    contentType: 'application/json; charset=utf-8',
    deps,
    createdAt: now,
    invalidated: false,
    missing,
  };
}

/** Bodies below this size go uncompressed: the headers would cost more than the saving. */
const MIN_COMPRESS_BYTES = 1024;

export type Encoding = 'br' | 'gzip' | 'identity';

export function pickEncoding(acceptEncoding: string | undefined, size: number): Encoding {
  if (!acceptEncoding || size < MIN_COMPRESS_BYTES) return 'identity';
  const accepted = new Map<string, number>();
  for (const part of acceptEncoding.toLowerCase().split(',')) {
    const [name, ...params] = part.trim().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    accepted.set(name!.trim(), q ? Number(q.slice(2)) : 1);
  }
  const wants = (enc: string) => (accepted.get(enc) ?? accepted.get('*') ?? 0) > 0;
  if (wants('br')) return 'br';
  if (wants('gzip')) return 'gzip';
  return 'identity';
}

/** The bytes for an encoding, compressing once per cached entry. */
export function encodedBody(entry: CachedResponse, encoding: Encoding): Buffer {
  switch (encoding) {
    case 'identity':
      return entry.body;
    case 'gzip':
      entry.gzip ??= gzipSync(entry.body, { level: 6 });
      return entry.gzip;
    case 'br':
      entry.br ??= brotliCompressSync(entry.body, { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } });
      return entry.br;
    default: {
      const never: never = encoding;
      return never;
    }
  }
}

/**
 * The validator of one representation: a strong ETag must differ per content coding (RFC 9110
 * 8.8.3), so compressed variants carry the coding in their tag.
 */
export const etagFor = (entry: CachedResponse, encoding: Encoding): string =>
  encoding === 'identity' ? entry.etag : `${entry.etag.slice(0, -1)}-${encoding}"`;

const opaque = (tag: string): string => tag.trim().replace(/^W\//, '');

/** If-None-Match uses the weak comparison (RFC 9110 13.1.2): `W/` prefixes are ignored. */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === '*') return true;
  return ifNoneMatch.split(',').some((tag) => opaque(tag) === opaque(etag));
}
