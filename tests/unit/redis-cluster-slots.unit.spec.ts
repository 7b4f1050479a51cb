/**
 * Redis Cluster (docs/adr/0020): every Lua script, pipeline and MULTI of the read models stays in
 * one hash slot, for representative ids. Computed with ioredis's own slot function, so what is
 * checked is what a cluster client would route (and what a node would refuse as CROSSSLOT).
 */
import calculateSlot from 'cluster-key-slot';
import type { ChainableCommander } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../../projections/catalog/change-event.ts';
import { RedisCatalogWriter } from '../../projections/catalog/redis-writer.ts';
import { coalesceOps, evolveSchedule, scheduleEffects } from '../../projections/redis/read-model.ts';
import type { ScheduleStreamEvent } from '../../domain/slot-state.ts';
import type { RedisClient } from '../../platform/redis.ts';
import {
  epochKey,
  keyspace,
  rebuildingKey,
  rootPrefix,
  versionKey,
  type ScheduleView,
} from '../../read-models/bookings.ts';
import { CATALOG_TABLES, catalogKeys, type CatalogTable, type Row } from '../../read-models/catalog.ts';
import { aBooking, aCancellation, anOpenSchedule, aClosure } from '../support/schedule-mother.ts';
import {
  aNumberedOpen,
  aPayment,
  aPlan,
  aSlotBooking,
  aWaitlistJoin,
  streamOf,
} from '../support/slot-mother.ts';

const slotsOf = (keys: readonly string[]) => new Set(keys.map((k) => calculateSlot(k)));

const ROOTS = ['rm', 'rm_t8f3a_2'];
const IDS = ['0f8fad5b-d9cb-469f-a165-70867728950e', 'p-7', '2030-01-15', '{odd}', ''];

describe('the booking read model keys', () => {
  it.each(ROOTS)('all hash to one slot under root %s, whatever the ids and version', (root) => {
    const keys = [versionKey(root), epochKey(root), rebuildingKey(root)];
    for (const version of [1, 2, 17]) {
      const ks = keyspace(root, version);
      for (const id of IDS) {
        keys.push(
          ks.schedule(id),
          ks.doctorSchedules(id),
          ks.patientAppointments(id),
          ks.appointment(id),
          ks.scheduleAppointments(id),
          ks.doctorDays(id),
          ks.bookingsByInstitution(id),
          ks.bookingsByDepartment(id),
          ks.hotDepartments(id),
        );
      }
    }
    expect(keys.every((k) => k.startsWith(rootPrefix(root)))).toBe(true);
    expect(slotsOf(keys).size).toBe(1);
  });

  it('gives different roots their own tag (a test prefix never shares the live keyspace slot by name)', () => {
    expect(rootPrefix('rm')).toBe('{rm}:');
    expect(keyspace('rm', 3).schedule('s1')).toBe('{rm}:v3:schedule:s1');
  });

  /** The KEYS of one guarded write (projections/redis/redis-writer.ts): schedule, epoch, every op's key. */
  function applyKeys(root: string, events: readonly ScheduleStreamEvent[]): string[] {
    const ks = keyspace(root, 1);
    let view: ScheduleView | null = null;
    const ops = events.flatMap((event, rev) => {
      const effect = scheduleEffects(view, event, rev, ks);
      view = effect.view;
      return effect.ops;
    });
    const scheduleId = events.reduce<ScheduleView | null>(
      (v, e, rev) => evolveSchedule(v, e, rev),
      null,
    )!.scheduleId;
    return [ks.schedule(scheduleId), epochKey(root), ...coalesceOps(ops).map((op) => op.key)];
  }

  it("declares every key of a capacity-only schedule's guarded write in one slot", () => {
    const open = anOpenSchedule({ capacity: 3 });
    const a = aBooking(open.scheduleId, { patientRef: 'p1' });
    const b = aBooking(open.scheduleId, { patientRef: 'p2' });
    const keys = applyKeys('rm', streamOf([open, a, b, aCancellation(a.appointmentId), aClosure()]));
    expect(keys.length).toBeGreaterThan(8); // schedule, epoch, lists, appointments, day counters
    expect(slotsOf(keys).size).toBe(1);
  });

  it("declares every key of a numbered schedule's guarded write (holds, payments, waitlist) in one slot", () => {
    const open = aNumberedOpen(aPlan({ count: 1, reservations: [] }), { fee: 5000 });
    const booking = aSlotBooking(open.scheduleId);
    const events = streamOf([open, booking, aPayment(booking.appointmentId), aWaitlistJoin(open.scheduleId)]);
    const keys = applyKeys('rm_t8f3a_2', events);
    expect(keys.length).toBeGreaterThan(5);
    expect(slotsOf(keys).size).toBe(1);
  });
});

describe('the catalog read model keys', () => {
  const change = (table: CatalogTable, after: Row, lsn: number): ChangeEvent => ({
    kind: 'change',
    op: 'c',
    table,
    id: String(after.id),
    before: null,
    after,
    lsn,
    snapshot: false,
    sourceTsMs: 0,
    tsMs: 0,
  });

  /** A client that records the catalog script's calls instead of sending them. */
  function recordingRedis() {
    const calls: string[][] = [];
    const pipeline = {
      catalogApply: (...args: string[]) => {
        calls.push(args);
        return pipeline;
      },
      exec: () => Promise.resolve(calls.map(() => [null, 1])),
    };
    const redis = {
      defineCommand: () => undefined,
      catalogApply: () => Promise.resolve(1),
      pipeline: () => pipeline as unknown as ChainableCommander,
    } as unknown as RedisClient;
    return { redis, calls };
  }

  it.each(['catalog:', 'cat_t8f3a_2:'])(
    'routes every apply call (KEYS[1]) and every key its script names to one slot, prefix %s',
    async (prefix) => {
      const keys = catalogKeys(prefix);
      const { redis, calls } = recordingRedis();
      const writer = new RedisCatalogWriter(redis, keys);
      const rows: [CatalogTable, Row][] = [
        ['institutions', { id: 7, status: 'active', city: '北京', level: '三甲', rating: 4.8 }],
        ['departments', { id: 31, institution_id: 7, category: '内科' }],
        ['doctors', { id: 902, department_id: 31, institution_id: 7, title: '主任医师', rating: 4.9 }],
        ['homepage_content', { id: 5, tab: 'news', weight: 80 }],
      ];
      for (const [table, row] of rows) await writer.apply(table, [change(table, row, 100)]);
      expect(calls).toHaveLength(rows.length);
      const named: string[] = [];
      for (const [key, , , , , zkeys, , instPrefix, catPrefix, inst, cat] of calls) {
        // KEYS[1]; the list indexes (ARGV[5]); what the script builds from the prefixes it is given.
        named.push(key!, ...(JSON.parse(zkeys!) as string[]), `${key!}:categories`);
        named.push(`${instPrefix!}7:categories`, `${instPrefix!}7`, `${catPrefix!}内科`);
        if (inst !== undefined) named.push(`${instPrefix!}${inst}:categories`, `${catPrefix!}${cat!}`);
      }
      for (const table of CATALOG_TABLES) named.push(keys.doc(table, 1), keys.doc(table, 999_999_999_999));
      expect(slotsOf(named).size).toBe(1);
    },
  );
});
