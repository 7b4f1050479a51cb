import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { projectionMetrics } from '../../projections/runtime/metrics.ts';

describe('projection lag metrics', () => {
  it('a scrape reads each lag source once and fills the total and the per-partition series from it', async () => {
    const registry = new Registry();
    const metrics = projectionMetrics(registry);
    let projectorReads = 0;
    let relayReads = 0;
    metrics.trackLag('redis', () => {
      projectorReads += 1;
      return Promise.resolve({
        total: 7,
        partitions: [
          { topic: 'booking.events', partition: 0, lag: 5 },
          { topic: 'booking.events', partition: 1, lag: 2 },
        ],
      });
    });
    metrics.trackLag('relay:main', () => {
      relayReads += 1;
      return Promise.resolve(3);
    });

    const text = await registry.metrics();

    expect(projectorReads).toBe(1);
    expect(relayReads).toBe(1);
    expect(text).toContain('projection_lag_events{projector="redis"} 7');
    expect(text).toContain('projection_lag_events{projector="relay:main"} 3');
    expect(text).toContain(
      'projection_partition_lag_events{projector="redis",topic="booking.events",partition="0"} 5',
    );
    expect(text).toContain(
      'projection_partition_lag_events{projector="redis",topic="booking.events",partition="1"} 2',
    );
    // The relay has no partitions: no per-partition series for it.
    expect(text).not.toMatch(/projection_partition_lag_events\{projector="relay:main"/);
  });

  it('a source that fails leaves its series out of the scrape, the others stay', async () => {
    const registry = new Registry();
    const metrics = projectionMetrics(registry);
    metrics.trackLag('search', () => Promise.reject(new Error('broker down')));
    metrics.trackLag('redis', () =>
      Promise.resolve({ total: 1, partitions: [{ topic: 't', partition: 0, lag: 1 }] }),
    );

    const text = await registry.metrics();

    expect(text).not.toMatch(/projector="search"/);
    expect(text).toContain('projection_partition_lag_events{projector="redis",topic="t",partition="0"} 1');
  });
});
