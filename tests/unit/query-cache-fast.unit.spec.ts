import { createServer, IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Socket } from 'node:net';
import { Counter } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { isUntracedRequest, onTelemetryShutdown } from '../../platform/context.ts';
import { createRegistry } from '../../platform/http/metrics.ts';
import { createLogger } from '../../platform/logger.ts';
import { makeCachedResponse } from '../../query-api/cache/cached-response.ts';
import { TwoLevelCache } from '../../query-api/cache/two-level-cache.ts';
import { answerHitsFirst, FastRoutes, withFastPath } from '../../query-api/fast-path.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function loader() {
  const state = { loads: 0, version: 0 };
  const load = async () => {
    state.loads += 1;
    const { version } = state;
    await sleep(20);
    return makeCachedResponse({ version }, ['rm:k']);
  };
  return { state, load };
}
const versionOf = (body: Buffer) => (JSON.parse(body.toString()) as { version: number }).version;

describe('what the fast path may serve (peekServable)', () => {
  it('serves a fresh entry as a hit and loads nothing', async () => {
    const cache = new TwoLevelCache({ ttlMs: 10_000 });
    const l = loader();
    await cache.get('k', l.load);
    expect(cache.peekServable('k')?.outcome).toBe('l1-hit');
    expect(l.state.loads).toBe(1);
  });

  it('serves an expired entry at once and refreshes it behind, once for many reads', async () => {
    // A TTL long enough that the refreshed entry is still fresh when read on a loaded machine.
    const cache = new TwoLevelCache({ ttlMs: 300 });
    const l = loader();
    await cache.get('k', l.load);
    await sleep(350);
    l.state.version = 1;
    const reads = Array.from({ length: 20 }, () => cache.peekServable('k'));
    expect(reads.every((r) => r?.outcome === 'l1-stale-revalidating')).toBe(true);
    expect(reads.every((r) => versionOf(r!.entry.body) === 0)).toBe(true);
    await sleep(60); // the background load (20 ms) has returned and its entry is stored, still fresh
    expect(l.state.loads).toBe(2);
    const after = cache.peekServable('k');
    expect(after?.outcome).toBe('l1-hit');
    expect(versionOf(after!.entry.body)).toBe(1);
  });

  it('never serves an invalidated entry, nor one older than maxStaleMs', async () => {
    const cache = new TwoLevelCache({ ttlMs: 10, maxStaleMs: 1000 });
    const l = loader();
    await cache.get('k', l.load);
    cache.invalidateDependency('rm:k');
    expect(cache.peekServable('k')).toBeUndefined();

    const old = new TwoLevelCache({ ttlMs: 10, maxStaleMs: 1000 });
    await old.get('k', l.load);
    const entry = old.peekServable('k')!.entry;
    entry.createdAt -= 2000;
    await sleep(20);
    expect(old.peekServable('k')).toBeUndefined();
  });

  it('gives each key the TTL ttlFor says (the homepage short, keyed pages long)', async () => {
    const cache = new TwoLevelCache({
      ttlMs: 30,
      ttlFor: (key) => (key.startsWith('homepage:') ? undefined : 10_000),
    });
    const l = loader();
    await cache.get('homepage:x', l.load);
    await cache.get('institution:1', l.load);
    await sleep(50);
    expect(cache.peekFresh('homepage:x')).toBeUndefined();
    expect(cache.peekFresh('institution:1')).toBeDefined();
  });

  it('lets many reads of an invalidated entry wait on one reload of fresh data', async () => {
    const cache = new TwoLevelCache({ ttlMs: 10_000 });
    const l = loader();
    await cache.get('k', l.load);
    expect(cache.reloading('k')).toBeUndefined(); // valid: nothing to wait for
    l.state.version = 1;
    cache.invalidateDependency('rm:k');
    const waits = Array.from({ length: 10 }, () => cache.reloading('k')!);
    const fresh = await Promise.all(waits);
    expect(l.state.loads).toBe(2);
    expect(fresh.every((e) => versionOf(e.body) === 1)).toBe(true);
    expect(cache.peekServable('k')?.outcome).toBe('l1-hit');
  });

  it('rejects the wait when a change races the reload (the slow way then decides)', async () => {
    const cache = new TwoLevelCache({ ttlMs: 10_000 });
    const l = loader();
    await cache.get('k', l.load);
    cache.invalidateDependency('rm:k');
    const wait = cache.reloading('k')!;
    cache.invalidateDependency('rm:k'); // lands while the reload is in flight
    await expect(wait).rejects.toThrow('not servable');
  });
});

describe('the fast path stays outside tracing (no span, no X-Trace-Id on a cache hit)', () => {
  // Each test its own URL: the predicates of earlier tests' fast paths stay registered (one process).

  function request(url: string, method = 'GET', headers: Record<string, string> = {}) {
    const req = new IncomingMessage(new Socket());
    Object.assign(req, { url, method, headers });
    return req;
  }

  /** The response's status and headers, as sendCached writes them (one flat writeHead). */
  function response() {
    const headers = new Map<string, string>();
    const res = {
      statusCode: 200,
      writeHead(status: number, flat: string[] = []) {
        res.statusCode = status;
        for (let i = 0; i + 1 < flat.length; i += 2) headers.set(flat[i]!.toLowerCase(), flat[i + 1]!);
        return res;
      },
      setHeader: (name: string, value: string) => headers.set(name.toLowerCase(), value),
      end: () => res,
    };
    return { res: res as unknown as ServerResponse, headers };
  }

  async function fastPath(url: string) {
    // What the preload does: with the SDK running, traceNoRequestsWhere keeps the fast path's test.
    onTelemetryShutdown(() => Promise.resolve());
    const cache = new TwoLevelCache({ ttlMs: 10_000 });
    await cache.get('homepage:x', loader().load);
    const routes = new FastRoutes();
    routes.remember(url, 'homepage:x', '/v1/homepage');
    const registry = createRegistry();
    const outcomes = new Counter({
      name: 'query_cache_outcomes_total',
      help: 'test',
      labelNames: ['route', 'outcome'] as const,
      registers: [registry],
    });
    const throughExpress: IncomingMessage[] = [];
    const handler = withFastPath(
      // Express with the trace middleware: the only place X-Trace-Id is set (platform/http/trace.ts).
      (req, res) => {
        throughExpress.push(req);
        res.setHeader('X-Trace-Id', '0af7651916cd43dd8448eb211c80319c');
      },
      {
        cache,
        routes,
        registry,
        outcomes,
        logger: createLogger('test', 'silent'),
        redisReady: () => true,
        disabled: () => false,
      },
    );
    return { cache, handler, throughExpress };
  }

  it('tells the http instrumentation to skip a warm l1 hit, which is answered with no trace header', async () => {
    const url = '/v1/homepage?city=hit';
    const { handler, throughExpress } = await fastPath(url);
    const req = request(url);
    expect(isUntracedRequest(req)).toBe(true);
    const { res, headers } = response();
    handler(req, res);
    expect(throughExpress).toEqual([]);
    expect(res.statusCode).toBe(200);
    expect(headers.get('x-cache')).toBe('l1-hit');
    expect(headers.has('x-trace-id')).toBe(false);
    expect(headers.has('traceparent')).toBe(false);
  });

  it('traces what is not a hit: a read-your-writes read, a new URL, a POST, an invalidated entry', async () => {
    const url = '/v1/homepage?city=miss';
    const { cache, handler, throughExpress } = await fastPath(url);
    const traced = [
      request(url, 'GET', { 'booking-checkpoint': '0000000000000001' }),
      request('/v1/homepage?city=new'),
      request(url, 'POST'),
    ];
    for (const req of traced) {
      expect(isUntracedRequest(req), req.url).toBe(false);
      const { res, headers } = response();
      handler(req, res);
      expect(headers.get('x-trace-id')).toBe('0af7651916cd43dd8448eb211c80319c');
    }
    expect(throughExpress).toEqual(traced);
    // An invalidated entry is not served at once: the request gets a span (it may wait on a reload).
    cache.invalidateDependency('rm:k');
    expect(isUntracedRequest(request(url))).toBe(false);
  });

  it("answers hits before anything that wraps the server's emit sees the request (answerHitsFirst)", async () => {
    const url = '/v1/homepage?city=first';
    const { handler, throughExpress } = await fastPath(url);
    const server = createServer(handler);
    // What the http instrumentation does: it wraps emit and sees every 'request' it is given.
    const wrapped: string[] = [];
    const emit = server.emit.bind(server) as (event: string | symbol, ...args: unknown[]) => boolean;
    server.emit = ((event: string | symbol, ...args: unknown[]) => {
      if (event === 'request') wrapped.push((args[0] as IncomingMessage).url ?? '');
      return emit(event, ...args);
    }) as typeof server.emit;
    answerHitsFirst(server, handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const hit = await fetch(`${base}${url}`);
      expect(hit.status).toBe(200);
      expect(hit.headers.get('x-cache')).toBe('l1-hit');
      // The stand-in for Express never answers: enough that the request reached it.
      void fetch(`${base}/v1/homepage?city=elsewhere`).catch(() => undefined);
      while (throughExpress.length === 0) await sleep(5);
      expect(wrapped).toEqual(['/v1/homepage?city=elsewhere']);
      expect(throughExpress.map((r) => r.url)).toEqual(['/v1/homepage?city=elsewhere']);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
