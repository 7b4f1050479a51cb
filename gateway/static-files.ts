/**
 * The built web app (web/dist), held in memory with its precompressed twins (.br, .gz written by
 * the build): hashed assets are immutable for a year, index.html must be revalidated (no-cache,
 * strong ETag) so a new release reaches the next page load. A CDN in front caches exactly what
 * these headers allow. Unknown app routes fall back to index.html (the Vue router decides).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import type { RequestHandler } from 'express';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webmanifest': 'application/manifest+json',
  '.txt': 'text/plain; charset=utf-8',
};

export const IMMUTABLE = 'public, max-age=31536000, immutable';

interface StaticFile {
  type: string;
  etag: string;
  cacheControl: string;
  raw: Buffer;
  br?: Buffer;
  gz?: Buffer;
}

function* walk(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* walk(path);
    else yield path;
  }
}

const maybe = (path: string): Buffer | undefined => (existsSync(path) ? readFileSync(path) : undefined);

/** Reads every file of `root` (a Vite build) with its .br and .gz twins, keyed by URL path. */
export function loadStaticFiles(root: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  if (!existsSync(root)) return files;
  for (const path of walk(root)) {
    if (path.endsWith('.br') || path.endsWith('.gz')) continue;
    const url = `/${relative(root, path).split(sep).join('/')}`;
    const raw = readFileSync(path);
    const br = maybe(`${path}.br`);
    const gz = maybe(`${path}.gz`);
    files.set(url, {
      type: TYPES[extname(path)] ?? 'application/octet-stream',
      etag: `"${createHash('sha256').update(raw).digest('base64url').slice(0, 27)}"`,
      // Vite puts every content-hashed file under /assets/.
      cacheControl: url.startsWith('/assets/') ? IMMUTABLE : 'no-cache',
      raw,
      ...(br ? { br } : {}),
      ...(gz ? { gz } : {}),
    });
  }
  return files;
}

/** The encoding to send: brotli, else gzip, else none, as the client accepts (q=0 refuses). */
export function pickEncoding(
  acceptEncoding: string | undefined,
  file: StaticFile,
): 'br' | 'gzip' | undefined {
  const accepted = new Set(
    (acceptEncoding ?? '')
      .split(',')
      .map((part) => part.trim().toLowerCase())
      .filter((part) => !/;\s*q=0(\.0*)?$/.test(part))
      .map((part) => part.split(';')[0]),
  );
  if (file.br && accepted.has('br')) return 'br';
  if (file.gz && accepted.has('gzip')) return 'gzip';
  return undefined;
}

/** An app route (not a file, not an API): the SPA's index.html answers it. */
const isAppRoute = (path: string): boolean =>
  !path.startsWith('/v1/') && !path.startsWith('/dev/') && extname(path) === '';

export function staticHandler(files: Map<string, StaticFile>): RequestHandler {
  return (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const file = files.get(req.path) ?? (isAppRoute(req.path) ? files.get('/index.html') : undefined);
    if (!file) return next();
    res.setHeader('Content-Type', file.type);
    res.setHeader('Cache-Control', file.cacheControl);
    res.setHeader('ETag', file.etag);
    res.setHeader('Vary', 'Accept-Encoding');
    if (req.header('if-none-match') === file.etag) {
      res.status(304).end();
      return;
    }
    const encoding = pickEncoding(req.header('accept-encoding'), file);
    const body = encoding === 'br' ? file.br : encoding === 'gzip' ? file.gz : file.raw;
    if (encoding) res.setHeader('Content-Encoding', encoding);
    res.setHeader('Content-Length', String(body?.length ?? 0));
    if (req.method === 'HEAD') res.end();
    else res.end(body);
  };
}
