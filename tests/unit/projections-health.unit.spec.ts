import { describe, expect, it } from 'vitest';
import { livenessResponse, readinessResponse } from '../../platform/http/health.ts';
import type { SamplerView } from '../../platform/sampler.ts';
import { deathWatch, projectionsHealth } from '../../projections/health.ts';
import type { RelayStatus } from '../../projections/relay/relay.ts';

const broker = (error?: string): SamplerView<number> => ({
  name: 'kafka',
  last: () => ({ ok: !error, at: Date.now() }),
  lastGood: () => undefined,
  check: () => {
    if (error) throw new Error(error);
  },
  report: () => (error ? { value: null, error } : { value: 1, ageMs: 0 }),
});

const lagOf = (name: string, value: number): SamplerView<number> => ({
  name,
  last: () => ({ ok: true, value, at: Date.now() }),
  lastGood: () => ({ value, ageMs: 1200 }),
  check: () => undefined,
  report: () => ({ value, ageMs: 1200 }),
});

function healthOf(
  relay: RelayStatus | undefined,
  kafkaError?: string,
  watch = deathWatch(),
  lag: SamplerView<number>[] = [],
) {
  return projectionsHealth(
    {
      hasRelay: relay !== undefined,
      relay: () => (relay ? { status: () => relay } : undefined),
      kafka: broker(kafkaError),
      dependencies: {},
      lag: () => lag,
      lagBudgetEvents: 1000,
      isStarted: () => true,
      isStopping: () => false,
    },
    watch,
  );
}

describe('projections health', () => {
  it('a crashed relay loop fails liveness', async () => {
    const live = await livenessResponse(healthOf({ alive: false, consecutiveErrors: 0, lastError: 'boom' }));
    expect(live.statusCode).toBe(503);
    expect(live.body.reasons).toEqual(['relay: relay loop crashed: boom']);
  });

  it('failing relay batches and an unreachable broker are degraded, not dead', async () => {
    const h = healthOf(
      { alive: true, consecutiveErrors: 3, lastError: 'ECONNREFUSED' },
      'no answer for 2100 ms',
    );
    const live = await livenessResponse(h);
    expect(live.statusCode).toBe(200);
    expect(live.body.status).toBe('degraded');
    expect(live.body.reasons).toEqual([
      'kafka: no answer for 2100 ms',
      'relay-publish: 3 batch(es) failed in a row: ECONNREFUSED',
    ]);
    expect((await readinessResponse(h)).statusCode).toBe(503);
  });

  it('a projector whose done rejected fails liveness; one that stopped cleanly does not', async () => {
    const watch = deathWatch();
    watch.watch({ name: 'redis', done: Promise.reject(new Error('crashed')) });
    watch.watch({ name: 'search', done: Promise.resolve() });
    await new Promise((r) => setTimeout(r, 0));
    const live = await livenessResponse(healthOf(undefined, undefined, watch));
    expect(live.statusCode).toBe(503);
    expect(live.body.reasons).toEqual(['projector:redis: stopped for good: Error: crashed']);
  });

  it('a projector further behind than the budget is degraded and not ready, with who and how far', async () => {
    const h = healthOf(undefined, undefined, deathWatch(), [lagOf('redis', 1001), lagOf('search', 1000)]);
    const live = await livenessResponse(h);
    expect(live.statusCode).toBe(200);
    expect(live.body.status).toBe('degraded');
    expect(live.body.reasons).toEqual([
      'lag: over budget of 1000: redis 1001 events behind (sampled 1200 ms ago)',
    ]);
    expect((await readinessResponse(h)).statusCode).toBe(503);
  });

  it('lag at the budget is healthy', async () => {
    const h = healthOf(undefined, undefined, deathWatch(), [lagOf('redis', 1000)]);
    expect((await livenessResponse(h)).body.status).toBe('ok');
    expect((await readinessResponse(h)).statusCode).toBe(200);
  });
});
