/**
 * The Redis read models against the real Redis: the revision guard (APPLY_LUA, the script the
 * projector runs) on its own, and the writes the pure read model emits as that script applies
 * them. Every test writes under a key root of its own and deletes its keys afterwards.
 */
import { stampSchemaVersion } from '../../domain/event-versions.ts';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ScheduleEvent } from '../../domain/schedule.ts';
import { createLogger } from '../../platform/logger.ts';
import { createRedis, type RedisClient } from '../../platform/redis.ts';
import { coalesceOps, type RedisOp, scheduleEffects } from '../../projections/redis/read-model.ts';
import { defineApplyCommand, RedisReadModelWriter } from '../../projections/redis/redis-writer.ts';
import type { EventEnvelope } from '../../projections/relay/event-message.ts';
import { keyspace, rootPrefix, type ScheduleView } from '../../read-models/bookings.ts';
import { hospitalDate } from '../../read-models/hospital-date.ts';
import {
  aBooking,
  aCancellation,
  aClosure,
  anOpenSchedule,
  BEFORE_SESSION,
  historyOf,
} from '../support/schedule-mother.ts';
import { testConfig } from '../support/test-config.ts';
import { uniqueName } from '../support/wait.ts';
import { scanKeys, snapshotUnder, unlinkKeys } from '../support/redis-keys.ts';

let redis: RedisClient;
let root: string;

beforeAll(() => {
  redis = createRedis(testConfig(), 'redis-read-model-test');
  defineApplyCommand(redis);
});

beforeEach(() => {
  root = uniqueName('rm');
});

afterEach(async () => {
  // Every root of the test starts with `{<root>` (its `-twice`, `-plain`… siblings too).
  await unlinkKeys(redis, await keysUnder(`{${root}`));
});

afterAll(() => {
  redis.disconnect();
});

const keysUnder = (prefix: string) => scanKeys(redis, `${prefix}*`);
const snapshot = (prefix: string) => snapshotUnder(redis, prefix);

/** One guarded script call, its arguments encoded exactly as APPLY_LUA documents them. */
function apply(
  guard: string,
  fromRev: number,
  toRev: number,
  ops: RedisOp[],
  epoch?: { key: string },
): Promise<number> {
  const keys = [guard, epoch?.key ?? `${rootPrefix(root)}epoch`];
  const writes: (string | number)[] = [];
  for (const op of ops) {
    if (!keys.includes(op.key)) keys.push(op.key);
    writes.push(op.cmd, keys.indexOf(op.key) + 1, op.args.length, ...op.args);
  }
  const argv = [String(fromRev), String(toRev), `cp-${toRev}`, epoch ? '1' : '0', JSON.stringify(writes)];
  return redis.rmApply(keys.length, keys, argv);
}

describe('the revision guard (APPLY_LUA)', () => {
  const ops = (): RedisOp[] => [
    { cmd: 'HSET', key: `${rootPrefix(root)}a`, args: ['status', 'open'] },
    { cmd: 'HINCRBY', key: `${rootPrefix(root)}counts`, args: ['bookings', '1'] },
    { cmd: 'ZINCRBY', key: `${rootPrefix(root)}hot`, args: ['1', 'cardiology'] },
  ];

  it('applies the writes and stores the new revision and checkpoint in the same step', async () => {
    expect(await apply(`${rootPrefix(root)}guard`, -1, 0, ops())).toBe(1);
    expect(await redis.hgetall(`${rootPrefix(root)}guard`)).toEqual({ rev: '0', cp: 'cp-0' });
    expect(await redis.hgetall(`${rootPrefix(root)}a`)).toEqual({ status: 'open' });
    expect(await redis.hget(`${rootPrefix(root)}counts`, 'bookings')).toBe('1');
    expect(await redis.zscore(`${rootPrefix(root)}hot`, 'cardiology')).toBe('1');
  });

  it('answers 0 and writes nothing for a revision already applied: counters never count twice', async () => {
    expect(await apply(`${rootPrefix(root)}guard`, -1, 0, ops())).toBe(1);
    expect(await apply(`${rootPrefix(root)}guard`, 0, 1, ops())).toBe(1);
    const before = await snapshot(rootPrefix(root));
    expect(await apply(`${rootPrefix(root)}guard`, 0, 1, ops())).toBe(0); // redelivered
    expect(await apply(`${rootPrefix(root)}guard`, -1, 0, ops())).toBe(0); // older still
    expect(await snapshot(rootPrefix(root))).toEqual(before);
    expect(await redis.hget(`${rootPrefix(root)}counts`, 'bookings')).toBe('2');
  });

  it('answers -1 and writes nothing when the fold started from another revision than the stored one', async () => {
    expect(await apply(`${rootPrefix(root)}guard`, -1, 0, ops())).toBe(1);
    const before = await snapshot(rootPrefix(root));
    expect(await apply(`${rootPrefix(root)}guard`, -1, 1, ops())).toBe(-1); // folded without revision 0
    expect(await apply(`${rootPrefix(root)}guard`, 1, 2, ops())).toBe(-1); // a gap: revision 1 missing
    expect(await snapshot(rootPrefix(root))).toEqual(before);
  });

  it('answers -2 and writes nothing for a live write while the epoch marker is missing (a lost keyspace)', async () => {
    const epoch = { key: `${rootPrefix(root)}epoch-live` };
    expect(await apply(`${rootPrefix(root)}guard`, -1, 0, ops(), epoch)).toBe(-2);
    expect(await keysUnder(rootPrefix(root))).toEqual([]);
    await redis.set(epoch.key, 'e1');
    expect(await apply(`${rootPrefix(root)}guard`, -1, 0, ops(), epoch)).toBe(1);
  });

  it('refuses a command outside its list', async () => {
    const del = { cmd: 'DEL', key: `${rootPrefix(root)}a`, args: [] } as unknown as RedisOp;
    await expect(apply(`${rootPrefix(root)}guard`, -1, 0, [del])).rejects.toThrow(/command not allowed: DEL/);
    expect(await redis.exists(`${rootPrefix(root)}guard`)).toBe(0);
  });
});

const envelopes = (scheduleId: string, events: ScheduleEvent[]): EventEnvelope[] =>
  events.map((event, revision) => ({
    eventId: randomUUID(),
    streamId: `schedule-${scheduleId}`,
    revision,
    type: event.type,
    data: event.data,
    metadata: stampSchemaVersion(event.type, {}),
    createdAt: BEFORE_SESSION.toISOString(),
    checkpoint: `1:${revision + 1}`,
  }));

/** Delivers the events one by one (each one again right after, with `redeliver`) through the real writer. */
async function project(keyRoot: string, scheduleId: string, events: ScheduleEvent[], redeliver = false) {
  const writer = new RedisReadModelWriter({
    redis,
    root: keyRoot,
    logger: createLogger('rm-test', 'silent'),
  });
  for (const envelope of envelopes(scheduleId, events)) {
    await writer.write([{ envelope }], { version: 1 });
    if (redeliver) await writer.write([{ envelope }], { version: 1 });
  }
  return keyspace(keyRoot, 1);
}

describe('Redis read models: the writes, as the script applies them', () => {
  const open = anOpenSchedule({
    capacity: 3,
    institutionId: 'inst-1',
    departmentId: 'dept-1',
    doctorId: 'doc-1',
  });
  const a1 = aBooking(open.scheduleId, { patientRef: 'p1' });
  const a2 = aBooking(open.scheduleId, { patientRef: 'p2' });
  const day = hospitalDate(BEFORE_SESSION.toISOString());

  it('writes availability, the doctor list, the patient list and the day counters', async () => {
    const events = historyOf(open, a1, a2, aCancellation(a2.appointmentId));
    const keys = await project(root, open.scheduleId, events);
    expect(await redis.hgetall(keys.schedule(open.scheduleId))).toMatchObject({
      capacity: '3',
      booked: '1',
      remaining: '2',
      status: 'open',
      rev: '3',
      cp: '1:4',
    });
    expect(await redis.zrange(keys.doctorSchedules('doc-1'), 0, -1)).toEqual([open.scheduleId]);
    expect(Number(await redis.zscore(keys.doctorSchedules('doc-1'), open.scheduleId))).toBe(
      Date.parse('2030-01-15T00:00:00Z'),
    );
    expect(await redis.zrange(keys.patientAppointments('p1'), 0, -1)).toEqual([a1.appointmentId]);
    expect(await redis.hgetall(keys.appointment(a2.appointmentId))).toMatchObject({
      status: 'cancelled',
      patientRef: 'p2',
      institutionId: 'inst-1',
      date: '2030-01-15',
      period: 'morning',
    });
    // Bookings made that day: cancellations do not take them back.
    expect(await redis.hgetall(keys.bookingsByInstitution(day))).toEqual({ 'inst-1': '2' });
    expect(await redis.hgetall(keys.bookingsByDepartment(day))).toEqual({ 'dept-1': '2' });
    expect(await redis.zscore(keys.hotDepartments(day), 'dept-1')).toBe('2');
  });

  it('a redelivered event changes nothing: the revision guard covers the counters too', async () => {
    const events = historyOf(open, a1, a2);
    const twiceRoot = `${root}-twice`;
    await project(root, open.scheduleId, events);
    await project(twiceRoot, open.scheduleId, events, true);
    const once = await snapshot(rootPrefix(root));
    expect(Object.keys(once).length).toBeGreaterThan(5);
    expect(await snapshot(rootPrefix(twiceRoot))).toEqual(once);
  });

  it('closing a schedule removes it from the doctor list and leaves nothing bookable', async () => {
    const keys = await project(root, open.scheduleId, historyOf(open, a1, aClosure()));
    expect(await redis.zrange(keys.doctorSchedules('doc-1'), 0, -1)).toEqual([]);
    expect(await redis.hgetall(keys.schedule(open.scheduleId))).toMatchObject({
      status: 'closed',
      booked: '0',
      remaining: '0',
    });
    expect(await redis.hgetall(keys.appointment(a1.appointmentId))).toMatchObject({ status: 'cancelled' });
  });
});

describe('coalesceOps', () => {
  it('gives the same Redis state with fewer commands', async () => {
    const schedule = anOpenSchedule({ capacity: 50 });
    const bookings = Array.from({ length: 20 }, () => aBooking(schedule.scheduleId));
    const events = historyOf(schedule, ...bookings, aCancellation(bookings[3]!.appointmentId), aClosure());
    const [plainRoot, mergedRoot] = [`${root}-plain`, `${root}-merged`];
    const opsUnder = (keyRoot: string) => {
      let view: ScheduleView | null = null;
      return events.flatMap((event, rev) => {
        const effect = scheduleEffects(view, event, rev, keyspace(keyRoot, 1));
        view = effect.view;
        return effect.ops;
      });
    };
    const run = async (ops: RedisOp[]) => {
      for (const op of ops) await redis.call(op.cmd, op.key, ...op.args);
    };
    const plain = opsUnder(plainRoot);
    const fewer = coalesceOps(opsUnder(mergedRoot));
    await run(plain);
    await run(fewer);
    expect(await snapshot(rootPrefix(mergedRoot))).toEqual(await snapshot(rootPrefix(plainRoot)));
    expect(fewer.length).toBeLessThan(plain.length * 0.6);
  });
});
