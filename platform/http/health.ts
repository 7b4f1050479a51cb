import { Router } from 'express';
import { AppError } from './errors.ts';

export type ReadinessCheck = () => Promise<unknown>;

export interface HealthOptions {
  /** Each dependency that must answer for the service to take traffic, e.g. `{ postgres: () => pool.query('SELECT 1') }`. */
  checks: Record<string, ReadinessCheck>;
  /** Once draining, readiness fails so load balancers stop sending traffic. */
  isShuttingDown?: () => boolean;
  timeoutMs?: number;
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** `/healthz`: the process is alive. `/readyz`: every dependency answers (503 problem otherwise). */
export function healthRouter(opts: HealthOptions): Router {
  const router = Router();
  const timeoutMs = opts.timeoutMs ?? 2_000;
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    if (opts.isShuttingDown?.()) throw new AppError('dependency_unavailable', 'Shutting down');
    const results = await Promise.all(
      Object.entries(opts.checks).map(async ([name, check]) => {
        try {
          await withTimeout(check(), timeoutMs);
          return [name, 'ok'] as const;
        } catch {
          return [name, 'unavailable'] as const;
        }
      }),
    );
    const failed = results.filter(([, status]) => status !== 'ok').map(([name]) => name);
    if (failed.length) throw new AppError('dependency_unavailable', `Not ready: ${failed.join(', ')}`);
    res.json({ status: 'ready', checks: Object.fromEntries(results) });
  });
  return router;
}
