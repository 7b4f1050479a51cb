/**
 * The age of the transaction holding the relay back when PostgreSQL hides its start from the
 * relay's role (docs/adr/0002): counted from its first sighting, as a lower bound.
 */
import { describe, expect, it } from 'vitest';
import { ageHolder, describeHolder, type Holder } from '../../projections/relay/held-back.ts';

const holder = (over: Partial<Holder> = {}): Holder => ({
  pid: 4242,
  xid: '9001',
  database: 'booking',
  application: 'psql',
  state: null,
  ageSeconds: null,
  waiting: 3,
  ...over,
});

describe('ageHolder', () => {
  it('given a visible start, then the age is its own and exact', () => {
    const { holder: aged, seen } = ageHolder(holder({ ageSeconds: 12.5 }), undefined, 1_000);
    expect(aged).toMatchObject({ ageSeconds: 12.5, ageIsLowerBound: false });
    expect(seen).toEqual({ pid: 4242, xid: '9001', atMs: 1_000 });
  });

  it('given a hidden start, then the age counts from the first sighting of the same pid and xid', () => {
    const first = ageHolder(holder(), undefined, 1_000);
    expect(first.holder).toMatchObject({ ageSeconds: 0, ageIsLowerBound: true });
    const later = ageHolder(holder(), first.seen, 13_500);
    expect(later.holder).toMatchObject({ ageSeconds: 12.5, ageIsLowerBound: true });
    expect(later.seen).toEqual(first.seen);
  });

  it('given another transaction (a new xid, even on the same pid), then it starts from its own sighting', () => {
    const first = ageHolder(holder(), undefined, 1_000);
    const next = ageHolder(holder({ xid: '9002' }), first.seen, 20_000);
    expect(next.holder?.ageSeconds).toBe(0);
    expect(next.seen).toEqual({ pid: 4242, xid: '9002', atMs: 20_000 });
    expect(ageHolder(holder({ pid: 7 }), next.seen, 25_000).holder?.ageSeconds).toBe(0);
  });

  it('given no holder, then the first sighting is forgotten', () => {
    const first = ageHolder(holder(), undefined, 1_000);
    expect(ageHolder(undefined, first.seen, 2_000)).toEqual({ holder: undefined, seen: undefined });
    // The same transaction seen again later counts from then: never an age it was not seen for.
    expect(ageHolder(holder(), undefined, 5_000).holder?.ageSeconds).toBe(0);
  });

  it('the health reason says when the age is a lower bound', () => {
    const exact = ageHolder(holder({ ageSeconds: 12 }), undefined, 0).holder!;
    expect(describeHolder(exact)).toContain('held back for 12.0 s by transaction of pid 4242');
    const first = ageHolder(holder(), undefined, 0);
    const bound = ageHolder(holder(), first.seen, 12_000).holder!;
    expect(describeHolder(bound)).toContain('held back for ≥ 12.0 s (first seen');
    expect(describeHolder(bound)).toContain('pid 4242 (database booking, application psql, ?)');
  });
});
