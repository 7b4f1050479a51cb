import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import { DependencyGuard } from '../../platform/flow/outbound.ts';
import { PG_GUARD_DEFAULTS } from '../../platform/flow/pg-guard.ts';

describe('DependencyGuard: a queued call keeps its caller’s context', () => {
  it('given one slot taken by request A, when request B queues, then B runs in B’s context', async () => {
    const guard = new DependencyGuard('pg', { ...PG_GUARD_DEFAULTS, concurrency: 1, queue: 10 });
    const request = new AsyncLocalStorage<string>();
    let finishA!: () => void;
    const seen: (string | undefined)[] = [];

    const a = request.run('A', () =>
      guard.execute(async () => {
        seen.push(request.getStore());
        await new Promise<void>((resolve) => (finishA = resolve));
      }),
    );
    // B waits in the bulkhead's queue; it is started from A's completion.
    const b = request.run('B', () => guard.execute(async () => void seen.push(request.getStore())));
    await Promise.resolve();
    finishA();
    await Promise.all([a, b]);

    expect(seen).toEqual(['A', 'B']);
  });
});
