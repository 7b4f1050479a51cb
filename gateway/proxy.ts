/**
 * The /v1 proxy (http-proxy-middleware): one middleware, the upstream chosen per request — the API
 * by routing.ts, the build by the gray-release share (gray.ts), the instance by the balancer
 * (balancer.ts). An upstream that cannot be reached is a 503 dependency_unavailable problem, like
 * any other dependency of the platform; the request body is streamed through untouched (nothing
 * before this middleware parses it). Every proxied answer names the build that served it
 * (`X-Served-Version`, `X-Release-Track`), and its duration is recorded under that version.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { trace } from '@opentelemetry/api';
import type { NextFunction, RequestHandler } from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';
import { AppError, toProblem } from '../platform/http/errors.ts';
import type { Logger } from '../platform/logger.ts';
import type { Instance } from './balancer.ts';
import { RELEASE_HEADER, releaseTrack } from './gray.ts';
import { upstreamFor } from './routing.ts';
import { SERVICE_OF, type Upstreams } from './upstreams.ts';

export const SERVED_VERSION_HEADER = 'x-served-version';
export const RELEASE_TRACK_HEADER = 'x-release-track';

function answerUnavailable(res: ServerResponse | Socket, err: Error, logger: Logger): void {
  if (!('writeHead' in res)) {
    res.destroy();
    return;
  }
  logger.warn({ err: err.message }, 'upstream unreachable');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const problem = toProblem(
    new AppError('dependency_unavailable', 'The API behind the gateway did not answer'),
  );
  res
    .writeHead(problem.status, { 'content-type': 'application/problem+json', 'retry-after': '1' })
    .end(JSON.stringify(problem));
}

const header = (req: IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/** A connection refused reached no process: a request without a body can go to another instance. */
const RETRYABLE = new Set(['ECONNREFUSED']);
const FORWARDED = ['x-forwarded-for', 'x-forwarded-port', 'x-forwarded-proto', 'x-forwarded-host'];

interface Attempt {
  target: Instance;
  /** Ends this attempt's slot and its metric, once (the answer finished, or the attempt failed). */
  release(statusCode: string): void;
}

export function apiProxy(upstreams: Upstreams, logger: Logger): RequestHandler {
  const attempts = new WeakMap<IncomingMessage, Attempt>();
  const retries = new WeakMap<
    IncomingMessage,
    { next: NextFunction; forwarded: Record<string, string | undefined> }
  >();

  const pick = (req: IncomingMessage & { res?: ServerResponse }): string => {
    const upstream = upstreamFor(req.method ?? 'GET', (req.url ?? '/').split('?')[0] ?? '/');
    const service = SERVICE_OF[upstream];
    const track = releaseTrack(
      {
        authorization: header(req, 'authorization'),
        cookie: header(req, 'cookie'),
        release: header(req, RELEASE_HEADER),
        address: req.socket.remoteAddress,
      },
      upstreams.share(service),
    );
    const target = upstreams.pools[upstream].next(track);
    // Pools are never empty (config gives at least one stable URL); this keeps the types honest.
    if (!target) throw new Error(`no instance of ${service}`);
    target.pending += 1;
    target.sent += 1;
    const end = upstreams.metrics.duration.startTimer({
      service,
      version: target.version,
      track: target.track,
    });
    let open = true;
    const release = (statusCode: string) => {
      if (!open) return;
      open = false;
      target.pending -= 1;
      end({ status_code: statusCode });
    };
    attempts.set(req, { target, release });
    // Express sets req.res; the answer's end (sent, failed or abandoned) releases the slot.
    const res = req.res;
    res?.once('close', () => release(String(res.statusCode)));
    trace.getActiveSpan()?.setAttributes({
      'upstream.service': service,
      'upstream.version': target.version,
      'release.track': target.track,
    });
    return target.url;
  };

  const proxy = createProxyMiddleware<IncomingMessage, ServerResponse>({
    target: upstreams.pools.query.instances[0]?.url ?? 'http://127.0.0.1',
    pathFilter: '/v1',
    router: pick,
    // The APIs log and rate-limit by the caller's address: pass it on.
    xfwd: true,
    proxyTimeout: 35_000,
    on: {
      proxyRes: (proxyRes, req) => {
        const attempt = attempts.get(req);
        if (!attempt) return;
        proxyRes.headers[SERVED_VERSION_HEADER] = attempt.target.version;
        proxyRes.headers[RELEASE_TRACK_HEADER] = attempt.target.track;
      },
      error: (err, req, res) => {
        const code = (err as NodeJS.ErrnoException).code;
        const attempt = attempts.get(req);
        attempt?.release('502');
        if (attempt) upstreams.connectionFailed(attempt.target, code);
        // Once, for a request without a body (nothing of it was consumed), to another instance:
        // the instance that refused is out of rotation now, so the balancer will not pick it again.
        const retry = retries.get(req);
        const bodiless = req.method === 'GET' || req.method === 'HEAD';
        if (
          retry &&
          bodiless &&
          code !== undefined &&
          RETRYABLE.has(code) &&
          'writeHead' in res &&
          !res.headersSent
        ) {
          retries.delete(req);
          for (const name of FORWARDED) {
            const value = retry.forwarded[name];
            if (value === undefined) delete req.headers[name];
            else req.headers[name] = value;
          }
          void proxy(req, res, retry.next);
          return;
        }
        answerUnavailable(res, err, logger);
      },
    },
  });
  return (req, res, next) => {
    const forwarded = Object.fromEntries(FORWARDED.map((name) => [name, header(req, name)]));
    retries.set(req, { next, forwarded });
    return proxy(req, res, next);
  };
}
