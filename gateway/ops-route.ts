/**
 * GET /v1/ops/summary (admin): the gateway scrapes each service's admin /metrics every few seconds
 * (server side: the admin ports are not for browsers) and keeps the last minutes in memory; the
 * ops page draws the summary. Served here, before the /v1 proxy, because no API owns it.
 */
import express, { type Router } from 'express';
import { authenticate, requireRole, type JwtSettings } from '../platform/http/auth.ts';
import { summarise, type Scrape } from './ops-summary.ts';
import { parsePrometheusText } from './prom-text.ts';

export interface OpsSampler {
  summary(): { sampledEveryMs: number; windowMs: number; services: ReturnType<typeof summarise>[] };
  stop(): void;
}

async function scrape(url: string, timeoutMs: number): Promise<Scrape> {
  const at = Date.now();
  try {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return { at, up: false, samples: [] };
    return { at, up: true, samples: parsePrometheusText(await res.text()) };
  } catch {
    return { at, up: false, samples: [] };
  }
}

/** Scrapes every target each `everyMs`, keeping `windowMs` of history per target. */
export function startOpsSampler(
  targets: Record<string, string>,
  everyMs = 5000,
  windowMs = 5 * 60_000,
): OpsSampler {
  const history = new Map<string, Scrape[]>(Object.keys(targets).map((name) => [name, []]));
  const round = async () => {
    await Promise.all(
      Object.entries(targets).map(async ([name, url]) => {
        const list = history.get(name) ?? [];
        list.push(await scrape(url, Math.min(2000, everyMs)));
        while (list.length > 0 && list[0]!.at < Date.now() - windowMs) list.shift();
        history.set(name, list);
      }),
    );
  };
  void round();
  const timer = setInterval(() => void round(), everyMs);
  timer.unref();
  return {
    summary: () => ({
      sampledEveryMs: everyMs,
      windowMs,
      services: [...history].map(([name, scrapes]) => summarise(name, scrapes)),
    }),
    stop: () => clearInterval(timer),
  };
}

export function opsRouter(opts: { jwt: JwtSettings; sampler: OpsSampler }): Router {
  const router = express.Router();
  router.get('/v1/ops/summary', authenticate({ jwt: opts.jwt }), requireRole('admin'), (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json(opts.sampler.summary());
  });
  return router;
}
