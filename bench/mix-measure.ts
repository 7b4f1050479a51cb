/** Measuring one target under the URL mix: autocannon with Zipf draws, per-route latencies, RSS, metrics. */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { routeOf, type RouteName } from './mix-urls.ts';

export interface RouteFigures {
  requests: number;
  p50: number;
  p99: number;
  failures: number;
}

export interface MixRun {
  rps: number;
  p50: number;
  p99: number;
  failures: number;
  meanBodyBytes: number;
  routes: Partial<Record<RouteName, RouteFigures>>;
  /** Highest resident set size of the server during the run (bytes), when its pid was given. */
  peakRss?: number;
}

const percentile = (sorted: Float64Array, p: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

const round2 = (x: number) => Math.round(x * 100) / 100;

/** Resident set size of a process (Linux /proc), bytes. */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

class Samples {
  private buf = new Float64Array(1 << 16);
  private n = 0;
  push(x: number) {
    if (this.n === this.buf.length) {
      const bigger = new Float64Array(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.n++] = x;
  }
  sorted(): Float64Array {
    return this.buf.slice(0, this.n).sort();
  }
}

/**
 * One autocannon run over `urls`, each request's URL the next Zipf draw. Latency per route is
 * measured from building a request to its response (one request in flight per connection).
 */
export async function runMix(opts: {
  port: number;
  urls: readonly string[];
  draws: Uint32Array;
  connections: number;
  duration: number;
  pid?: number;
}): Promise<MixRun> {
  const { urls, draws } = opts;
  const routes = urls.map(routeOf);
  const perRoute = new Map<RouteName, { samples: Samples; failures: number }>();
  for (const r of new Set(routes)) perRoute.set(r, { samples: new Samples(), failures: 0 });
  let next = Math.floor(Math.random() * draws.length);
  let bytes = 0;
  let responses = 0;
  type Ctx = { u: number; t: number };
  let peakRss = 0;
  const sampleRss = () => {
    if (opts.pid) peakRss = Math.max(peakRss, rssOf(opts.pid));
  };
  const timer = setInterval(sampleRss, 1000);
  try {
    const result = await autocannon({
      url: `http://127.0.0.1:${opts.port}`,
      connections: opts.connections,
      duration: opts.duration,
      requests: [
        {
          method: 'GET',
          setupRequest: (req, context) => {
            const ctx = context as Ctx;
            ctx.u = draws[next++ % draws.length]!;
            ctx.t = performance.now();
            return { ...req, path: urls[ctx.u]! };
          },
          onResponse: (status, body, context) => {
            const ctx = context as Ctx;
            const route = perRoute.get(routes[ctx.u]!)!;
            route.samples.push(performance.now() - ctx.t);
            if (status !== 200) route.failures += 1;
            bytes += body.length;
            responses += 1;
          },
        },
      ],
    });
    sampleRss();
    const out: MixRun['routes'] = {};
    for (const [route, r] of perRoute) {
      const sorted = r.samples.sorted();
      out[route] = {
        requests: sorted.length,
        p50: round2(percentile(sorted, 50)),
        p99: round2(percentile(sorted, 99)),
        failures: r.failures,
      };
    }
    return {
      rps: result.requests.average,
      p50: result.latency.p50,
      p99: result.latency.p99,
      failures: result.non2xx + result.errors + result.timeouts,
      meanBodyBytes: responses ? Math.round(bytes / responses) : 0,
      routes: out,
      ...(opts.pid ? { peakRss } : {}),
    };
  } finally {
    clearInterval(timer);
  }
}

/** Counter and gauge values of a Prometheus text exposition, by name and label set. */
export async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(url)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

const OUTCOMES = [
  'l1-hit',
  'l1-stale-revalidating',
  'l1-stale-fallback',
  'l2-load',
  'l2-miss',
  'l2-error',
] as const;

/** Per route: reads answered from process memory / all cached reads, between two scrapes. */
export function hitRatios(
  before: Map<string, number>,
  after: Map<string, number>,
): Partial<Record<RouteName, { hits: number; total: number; ratio: number }>> {
  const out: Partial<Record<RouteName, { hits: number; total: number; ratio: number }>> = {};
  const routes = new Set<string>();
  for (const k of after.keys()) {
    const m = /^query_cache_requests_total\{route="([^"]+)"/.exec(k);
    if (m) routes.add(m[1]!);
  }
  for (const route of routes) {
    let hits = 0;
    let total = 0;
    for (const o of OUTCOMES) {
      const k = `query_cache_requests_total{route="${route}",outcome="${o}"}`;
      const n = (after.get(k) ?? 0) - (before.get(k) ?? 0);
      total += n;
      if (o.startsWith('l1-')) hits += n;
    }
    if (total > 0) out[route as RouteName] = { hits, total, ratio: hits / total };
  }
  return out;
}
