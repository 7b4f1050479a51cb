/**
 * The Redis writer on whole Kafka batches, against the real Redis: a batch of many streams and
 * many bookings per stream, written in one call (one pipeline of guarded scripts, the schedule's
 * facts sent once per script, a key's ZADDs joined), leaves exactly the state the same events
 * leave written one at a time; and a batch delivered again after a crash (its offsets never
 * committed), whole or overlapping the next one, changes nothing.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stampSchemaVersion } from '../../domain/event-versions.ts';
import type { ScheduleEvent } from '../../domain/schedule.ts';
import { createLogger } from '../../platform/logger.ts';
import { createRedis, type RedisClient } from '../../platform/redis.ts';
import { RedisReadModelWriter, type WriteItem } from '../../projections/redis/redis-writer.ts';
import type { EventEnvelope } from '../../projections/relay/event-message.ts';
import { keyspace, rootPrefix } from '../../read-models/bookings.ts';
import {
  aBooking,
  aCancellation,
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
  redis = createRedis(testConfig(), 'redis-writer-batch-test');
});

beforeEach(() => {
  root = uniqueName('rmb');
});

afterEach(async () => {
  // Every root of the test (`-single`, `-batch`…) starts with `{<root>`, each a slot of its own.
  await unlinkKeys(redis, await keysUnder(`{${root}`));
});

afterAll(() => {
  redis.disconnect();
});

const keysUnder = (prefix: string) => scanKeys(redis, `${prefix}*`);
const snapshot = (prefix: string) => snapshotUnder(redis, prefix);

const writer = (keyRoot: string) =>
  new RedisReadModelWriter({ redis, root: keyRoot, logger: createLogger('rmb-test', 'silent') });

/** Three schedules of 40 bookings and a cancellation each, interleaved as one partition holds them. */
function interleavedLog(): WriteItem<string>[] {
  const streams = Array.from({ length: 3 }, (_, s) => {
    const open = anOpenSchedule({
      capacity: 100,
      doctorId: `doc-${s}`,
      institutionId: 'inst-1',
      departmentId: `dept-${s}`,
    });
    const bookings = Array.from({ length: 40 }, (_, b) =>
      aBooking(open.scheduleId, { patientRef: `p-${s}-${b}` }),
    );
    const events: ScheduleEvent[] = historyOf(open, ...bookings, aCancellation(bookings[7]!.appointmentId));
    return events.map((event, revision): EventEnvelope => ({
      eventId: randomUUID(),
      streamId: `schedule-${open.scheduleId}`,
      revision,
      type: event.type,
      data: event.data,
      metadata: stampSchemaVersion(event.type, {}),
      createdAt: BEFORE_SESSION.toISOString(),
      checkpoint: `1:${s * 1000 + revision + 1}`,
    }));
  });
  const log: WriteItem<string>[] = [];
  for (let i = 0; streams.some((s) => i < s.length); i++)
    for (const s of streams) if (s[i]) log.push({ envelope: s[i]!, source: `${s[i]!.streamId}@${i}` });
  return log;
}

describe('the Redis writer on a whole batch', () => {
  it('one call for the batch leaves the state the events leave one by one', async () => {
    const log = interleavedLog();
    const [oneByOne, batched] = [`${root}-single`, `${root}-batch`];
    for (const item of log) await writer(oneByOne).write([item], { version: 1 });
    const result = await writer(batched).write(log, { version: 1 });

    expect(result).toMatchObject({ applied: log.length, duplicates: 0, poison: [] });
    const expected = await snapshot(rootPrefix(oneByOne));
    expect(Object.keys(expected).length).toBeGreaterThan(3 * 40);
    expect(await snapshot(rootPrefix(batched))).toEqual(expected);
    // The schedule's facts, sent once per script call, are in every appointment hash all the same.
    const booked = log.find((i) => i.envelope.type === 'AppointmentBooked')!.envelope;
    const { appointmentId, scheduleId } = booked.data as { appointmentId: string; scheduleId: string };
    expect(await redis.hgetall(keyspace(batched, 1).appointment(appointmentId))).toMatchObject({
      appointmentId,
      scheduleId,
      doctorId: 'doc-0',
      institutionId: 'inst-1',
      departmentId: 'dept-0',
      date: '2030-01-15',
      status: 'active',
    });
  });

  it('a batch delivered again, whole or overlapping the next one, changes nothing', async () => {
    const log = interleavedLog();
    const [once, replayed] = [`${root}-once`, `${root}-replayed`];
    await writer(once).write(log, { version: 1 });

    const w = writer(replayed);
    const first = log.slice(0, 70);
    await w.write(first, { version: 1 });
    // The crash: the batch's writes landed, its offsets were not committed; it comes back whole.
    const again = await w.write(first, { version: 1 });
    expect(again).toMatchObject({ applied: 0, duplicates: first.length, poison: [] });
    // The next fetch starts inside the replayed batch: only its new tail is applied.
    const rest = await w.write(log.slice(50), { version: 1 });
    expect(rest).toMatchObject({ applied: log.length - 70, duplicates: 20, poison: [] });

    expect(await snapshot(rootPrefix(replayed))).toEqual(await snapshot(rootPrefix(once)));
  });
});
