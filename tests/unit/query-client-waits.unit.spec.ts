import type { Request } from 'express';
import { describe, expect, it } from 'vitest';
import { ClientWaits, clientOf } from '../../query-api/client-waits.ts';
import { loadUntil } from '../../query-api/read-your-writes.ts';

/** A wait that records the timeout it was given and ends when told to. */
function controlledWait() {
  const given: number[] = [];
  const ends: (() => void)[] = [];
  const wait = (ms: number) => {
    given.push(ms);
    return ms === 0 ? Promise.resolve(ms) : new Promise<number>((r) => ends.push(() => r(ms)));
  };
  return { given, wait, endAll: () => ends.splice(0).forEach((end) => end()) };
}

describe('read-your-writes waits per client (ClientWaits)', () => {
  it('given a client at its share, runs its next read with no wait, and other clients still wait', async () => {
    const waits = new ClientWaits(2);
    const w = controlledWait();
    const held = [waits.run('a', 2000, w.wait), waits.run('a', 2000, w.wait)];
    expect(await waits.run('a', 2000, w.wait)).toBe(0);
    const other = waits.run('b', 2000, w.wait);
    expect(waits.active('a')).toBe(2);
    expect(waits.active('b')).toBe(1);
    w.endAll();
    expect(await Promise.all([...held, other])).toEqual([2000, 2000, 2000]);
    expect(w.given).toEqual([2000, 2000, 0, 2000]);
  });

  it('given waits that ended, by answer or by error, gives their share back and keeps no idle client', async () => {
    const waits = new ClientWaits(1);
    await waits.run('a', 100, async (ms) => ms);
    await expect(waits.run('a', 100, () => Promise.reject(new Error('redis down')))).rejects.toThrow(
      'redis down',
    );
    expect(waits.active('a')).toBe(0);
    expect(await waits.run('a', 100, async (ms) => ms)).toBe(100);
  });

  it('given no checkpoint (timeout 0), takes no share', async () => {
    const waits = new ClientWaits(1);
    const w = controlledWait();
    const held = waits.run('a', 2000, w.wait);
    expect(await waits.run('a', 0, async () => waits.active('a'))).toBe(1);
    w.endAll();
    await held;
  });

  it('given a read past the share, answers at once with what is there, not fresh', async () => {
    const waits = new ClientWaits(1);
    const w = controlledWait();
    const held = waits.run('a', 2000, w.wait);
    const t0 = Date.now();
    const shed = await waits.run('a', 2000, (ms) =>
      loadUntil(
        async () => 1,
        (v) => v > 1,
        ms,
      ),
    );
    expect(shed).toEqual({ value: 1, fresh: false });
    expect(Date.now() - t0).toBeLessThan(500);
    w.endAll();
    await held;
  });
});

describe('whose share a wait counts against (clientOf)', () => {
  const req = (ip: string) => ({ ip, socket: {} }) as unknown as Request;

  it('given an authenticated principal, counts against it wherever it reads from', () => {
    const p = { sub: 'p1', role: 'patient' } as const;
    expect(clientOf(req('10.0.0.1'), p)).toBe(clientOf(req('10.0.0.2'), p));
    expect(clientOf(req('10.0.0.1'), p)).not.toBe(clientOf(req('10.0.0.1'), { ...p, sub: 'p2' }));
  });

  it('given no principal, counts against the peer address', () => {
    expect(clientOf(req('10.0.0.1'))).toBe('ip:10.0.0.1');
    expect(clientOf(req('10.0.0.1'))).not.toBe(clientOf(req('10.0.0.2')));
  });
});
