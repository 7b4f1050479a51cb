/**
 * RushModes (command-api/rush-modes.ts) without PostgreSQL: one read of the enabled schedules
 * serves every schedule until the TTL, concurrent bookings share one read, `forget` drops both
 * the snapshot and a read sent before it, and a failed read reaches the caller.
 */
import { describe, expect, it } from 'vitest';
import { RushModes } from '../../command-api/rush-modes.ts';
import type { Queryable } from '../../platform/pg.ts';

interface Row {
  schedule_id: string;
  institution_id: string;
}

/** A Queryable whose reads answer when the test says so, counting them. */
function fakeDb() {
  const pending: { resolve: (rows: Row[]) => void; reject: (err: Error) => void }[] = [];
  const db = {
    query: () =>
      new Promise<{ rows: Row[] }>((resolve, reject) => {
        pending.push({ resolve: (rows) => resolve({ rows }), reject });
      }),
  } as unknown as Queryable;
  return { db, pending };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('RushModes', () => {
  it('reads once for every schedule and every concurrent booking within the TTL', async () => {
    const { db, pending } = fakeDb();
    const modes = new RushModes(db, 60_000);
    const a = modes.of('s-1');
    const b = modes.of('s-2');
    await flush();
    expect(pending).toHaveLength(1);
    pending[0]!.resolve([{ schedule_id: 's-1', institution_id: 'inst-1' }]);
    expect(await a).toEqual({ enabled: true, institutionId: 'inst-1' });
    expect((await b).enabled).toBe(false);
    expect(await modes.of('s-3')).toEqual({ enabled: false, institutionId: '' });
    expect(pending).toHaveLength(1);
  });

  it('reads again after the TTL', async () => {
    const { db, pending } = fakeDb();
    const modes = new RushModes(db, 1);
    const first = modes.of('s-1');
    await flush();
    pending[0]!.resolve([]);
    expect((await first).enabled).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = modes.of('s-1');
    await flush();
    expect(pending).toHaveLength(2);
    pending[1]!.resolve([{ schedule_id: 's-1', institution_id: 'inst-1' }]);
    expect((await second).enabled).toBe(true);
  });

  it('after forget, neither the snapshot nor a read sent before it is used', async () => {
    const { db, pending } = fakeDb();
    const modes = new RushModes(db, 60_000);
    const before = modes.of('s-1');
    await flush();
    modes.forget('s-1'); // the switch committed while that read was in flight
    const after = modes.of('s-1');
    await flush();
    expect(pending).toHaveLength(2);
    pending[0]!.resolve([]);
    pending[1]!.resolve([{ schedule_id: 's-1', institution_id: 'inst-1' }]);
    expect((await before).enabled).toBe(false);
    expect((await after).enabled).toBe(true);
    expect((await modes.of('s-1')).enabled).toBe(true);
    expect(pending).toHaveLength(2);
  });

  it('passes a failed read to the caller and reads again on the next booking', async () => {
    const { db, pending } = fakeDb();
    const modes = new RushModes(db, 60_000);
    const failing = modes.of('s-1');
    await flush();
    pending[0]!.reject(new Error('connection refused'));
    await expect(failing).rejects.toThrow('connection refused');
    const next = modes.of('s-1');
    await flush();
    expect(pending).toHaveLength(2);
    pending[1]!.resolve([]);
    expect((await next).enabled).toBe(false);
  });
});
