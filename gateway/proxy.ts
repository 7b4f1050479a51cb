/**
 * The /v1 proxy (http-proxy-middleware): one middleware, the upstream chosen per request by
 * routing.ts. An upstream that cannot be reached is a 503 dependency_unavailable problem, like any
 * other dependency of the platform; the request body is streamed through untouched (nothing
 * before this middleware parses it).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { RequestHandler } from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';
import { AppError, toProblem } from '../platform/http/errors.ts';
import type { Logger } from '../platform/logger.ts';
import { upstreamFor } from './routing.ts';

export interface Upstreams {
  commandApiUrl: string;
  queryApiUrl: string;
}

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

export function apiProxy(upstreams: Upstreams, logger: Logger): RequestHandler {
  const proxy = createProxyMiddleware<IncomingMessage, ServerResponse>({
    target: upstreams.queryApiUrl,
    pathFilter: '/v1',
    router: (req) =>
      upstreamFor(req.method ?? 'GET', (req.url ?? '/').split('?')[0] ?? '/') === 'command'
        ? upstreams.commandApiUrl
        : upstreams.queryApiUrl,
    // The APIs log and rate-limit by the caller's address: pass it on.
    xfwd: true,
    proxyTimeout: 35_000,
    on: { error: (err, _req, res) => answerUnavailable(res, err, logger) },
  });
  return proxy;
}
