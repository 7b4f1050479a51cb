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
import type { RequestHandler } from 'express';
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

export function apiProxy(upstreams: Upstreams, logger: Logger): RequestHandler {
  const chosen = new WeakMap<IncomingMessage, Instance>();

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
    chosen.set(req, target);
    target.pending += 1;
    const end = upstreams.metrics.duration.startTimer({
      service,
      version: target.version,
      track: target.track,
    });
    // Express sets req.res; the answer's end (sent, failed or abandoned) releases the slot.
    const res = req.res;
    res?.once('close', () => {
      target.pending -= 1;
      end({ status_code: String(res.statusCode) });
    });
    trace.getActiveSpan()?.setAttributes({
      'upstream.service': service,
      'upstream.version': target.version,
      'release.track': target.track,
    });
    return target.url;
  };

  return createProxyMiddleware<IncomingMessage, ServerResponse>({
    target: upstreams.pools.query.instances[0]?.url ?? 'http://127.0.0.1',
    pathFilter: '/v1',
    router: pick,
    // The APIs log and rate-limit by the caller's address: pass it on.
    xfwd: true,
    proxyTimeout: 35_000,
    on: {
      proxyRes: (proxyRes, req) => {
        const target = chosen.get(req);
        if (!target) return;
        proxyRes.headers[SERVED_VERSION_HEADER] = target.version;
        proxyRes.headers[RELEASE_TRACK_HEADER] = target.track;
      },
      error: (err, req, res) => {
        const target = chosen.get(req);
        if (target) upstreams.connectionFailed(target, (err as NodeJS.ErrnoException).code);
        answerUnavailable(res, err, logger);
      },
    },
  });
}
