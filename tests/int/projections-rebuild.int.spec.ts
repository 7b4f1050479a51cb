import { stampSchemaVersion } from '../../domain/event-versions.ts';
import type { RedisClient } from '../../platform/redis.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScheduleEvent } from '../../domain/schedule.ts';
import type { Checkpoint, RecordedEvent } from '../../platform/event-store/event-store.ts';
import { keyspace, rootPrefix, versionKey } from '../../read-models/bookings.ts';
import { toKafkaMessage } from '../../projections/relay/event-message.ts';
import { rebuildRedis, rebuildSearch } from '../../projections/rebuild.ts';
import { replayDeadLetters } from '../../projections/runtime/dlq-replay.ts';
import type { ProjectorHandle } from '../../projections/runtime/projector-runtime.ts';
import type { AppointmentDoc } from '../../projections/search/appointments-model.ts';
import { handlerFor, redisWriter } from '../../projections/wiring.ts';
import {
  appendInChunks,
  deleteKeys,
  projectionsHarness,
  type Harness,
} from '../support/projections-harness.ts';
import { aScheduleHistory } from '../support/schedule-mother.ts';
import { uniqueName, waitFor } from '../support/wait.ts';

const scheduleEvents = (bookings: number, cancels: number) =>
  aScheduleHistory(bookings, cancels, { institutionId: uniqueName('inst') });

const append = (h: Harness, stream: string, events: ScheduleEvent[], from = 0) =>
  appendInChunks(h.store, stream, events, events.length, from);

/** The read-model state of some schedules, for comparing two keyspaces. */
async function snapshot(
  redis: RedisClient,
  root: string,
  version: number,
  schedules: ReturnType<typeof scheduleEvents>[],
) {
  const keys = keyspace(root, version);
  const out: Record<string, unknown> = {};
  for (const s of schedules) {
    out[s.open.scheduleId] = await redis.hgetall(keys.schedule(s.open.scheduleId));
    for (const a of s.appointments) out[a] = await redis.hgetall(keys.appointment(a));
    out[`doctor:${s.open.doctorId}`] = (
      await redis.zrange(keys.doctorSchedules(s.open.doctorId), 0, -1)
    ).includes(s.open.scheduleId);
  }
  return out;
}

describe('rebuild while the live projectors run', () => {
  let h: Harness;
  let from: Checkpoint | undefined;
  let live: { redis: ProjectorHandle; search: ProjectorHandle };

  beforeAll(async () => {
    h = await projectionsHarness();
    const relay = await h.startRelay();
    from = relay.checkpoint();
    live = { redis: await h.startProjector('redis'), search: await h.startProjector('search') };
  });

  afterAll(async () => {
    await h?.close();
  });

  it('rebuilds Redis into v2 while commands keep coming, switches, and the live projector follows', async () => {
    const before = Array.from({ length: 10 }, () => scheduleEvents(12, 3));
    for (const s of before) await append(h, s.stream, s.events);
    const keys1 = keyspace(h.pc.READ_MODEL_PREFIX, 1);
    await waitFor(
      async () =>
        (await h.redis.hget(keys1.schedule(before[9]!.open.scheduleId), 'rev')) === '15' ? true : undefined,
      { what: 'v1 caught up' },
    );

    // Commands keep arriving during the rebuild: new schedules and more bookings on old ones.
    const during = Array.from({ length: 10 }, () => scheduleEvents(8, 2));
    let stop = false;
    const traffic = (async () => {
      for (const s of during) {
        if (stop) break;
        await append(h, s.stream, s.events.slice(0, 5));
        await new Promise((r) => setTimeout(r, 30));
        await append(h, s.stream, s.events.slice(5), 5);
      }
    })();
    const phases: string[] = [];
    const result = await rebuildRedis({
      store: h.store,
      pool: h.pool,
      kafka: h.kafka,
      redis: h.redis,
      config: h.pc,
      logger: h.logger,
      from,
      batchSize: 50,
      keepOld: true,
      onProgress: (p) => void (phases.includes(p.phase) || phases.push(p.phase)),
    });
    stop = true;
    await traffic;
    expect(phases).toEqual(['fill', 'catch-up']);
    expect(result.target).toBe(keyspace(h.pc.READ_MODEL_PREFIX, 2).prefix);
    expect(await h.redis.get(versionKey(h.pc.READ_MODEL_PREFIX))).toBe('2');

    // After the switch the live projector writes to v2.
    const after = scheduleEvents(4, 1);
    await append(h, after.stream, after.events);
    const keys2 = keyspace(h.pc.READ_MODEL_PREFIX, 2);
    await waitFor(
      async () =>
        (await h.redis.hget(keys2.schedule(after.open.scheduleId), 'rev')) === '5' ? true : undefined,
      { what: 'a post-switch command in v2' },
    );
    await waitFor(async () => ((await live.redis.lag()) === 0 ? true : undefined), { what: 'live lag 0' });

    // v2 equals a from-scratch projection of the same topic.
    const scratchRoot = uniqueName('test-rm-scratch');
    const scratch = await h.startProjector('redis', { groupId: uniqueName('scratch'), root: scratchRoot });
    await waitFor(async () => ((await scratch.lag()) === 0 ? true : undefined), { what: 'scratch lag 0' });
    const all = [...before, ...during, after];
    const rebuilt = await snapshot(h.redis, h.pc.READ_MODEL_PREFIX, 2, all);
    const expected = await snapshot(h.redis, scratchRoot, 1, all);
    await scratch.stop();
    await deleteKeys(h.redis, `${rootPrefix(scratchRoot)}*`);
    expect(rebuilt).toEqual(expected);
    expect(rebuilt[before[0]!.open.scheduleId]).toMatchObject({ booked: '9', rev: '15' });
    expect(rebuilt[after.open.scheduleId]).toMatchObject({ booked: '3', rev: '5' });
  });

  it('rebuilds when the events topic does not exist (a new cluster, or one emptied after a restore)', async () => {
    const root = uniqueName('rm-no-topic');
    const config = { ...h.pc, EVENTS_TOPIC: uniqueName('absent.events'), READ_MODEL_PREFIX: root };
    const result = await rebuildRedis({
      store: h.store,
      pool: h.pool,
      kafka: h.kafka,
      redis: h.redis,
      config,
      logger: h.logger,
      from,
      batchSize: 200,
    });
    expect(result.target).toBe(keyspace(root, 2).prefix);
    expect(await h.redis.get(versionKey(root))).toBe('2');
    const admin = h.kafka.admin();
    await admin.connect();
    try {
      expect(await admin.listTopics()).not.toContain(config.EVENTS_TOPIC);
    } finally {
      await admin.disconnect();
    }
    await deleteKeys(h.redis, `${rootPrefix(root)}*`);
  });

  it('rebuilds the search index into a new versioned index and swaps the alias', async () => {
    const s = scheduleEvents(6, 2);
    await append(h, s.stream, s.events);
    const alias = h.pc.APPOINTMENTS_ALIAS;
    const [old] = await h.engine.aliasTargets(alias);
    const result = await rebuildSearch({
      store: h.store,
      pool: h.pool,
      kafka: h.kafka,
      engine: h.engine,
      config: h.pc,
      logger: h.logger,
      from,
      batchSize: 200,
    });
    expect(result.previous).toBe(old);
    expect(result.target).toBe(`${alias}_v2`);
    expect(await h.engine.aliasTargets(alias)).toEqual([`${alias}_v2`]);
    expect(await h.engine.indexExists(old!)).toBe(false);
    await h.engine.refresh(alias);
    expect(await h.engine.count(alias, { term: { scheduleId: s.open.scheduleId } })).toBe(6);
    const cancelled = await h.engine.get<AppointmentDoc>(alias, s.appointments[0]!);
    expect(cancelled?.source).toMatchObject({ status: 'cancelled', bookedAt: expect.any(String) as string });

    // The live search projector now writes to the new index.
    const after = scheduleEvents(2, 0);
    await append(h, after.stream, after.events);
    await waitFor(
      async () => ((await h.engine.get(`${alias}_v2`, after.appointments[1]!)) ? true : undefined),
      {
        what: 'a post-swap booking in the new index',
      },
    );
    await waitFor(async () => ((await live.search.lag()) === 0 ? true : undefined), { what: 'search lag 0' });
  });
});

describe('dead-letter replay', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await projectionsHarness();
  });

  afterAll(async () => {
    await h?.close();
  });

  it('replays a dead letter once its cause is fixed, and only once', async () => {
    const projector = await h.startProjector('redis');
    // Revision 2 of a stream whose earlier events the store does not have (yet): a gap → poison.
    const s = scheduleEvents(2, 0);
    const stranger = { ...toKafkaMessage(fakeRecorded(s.stream, 2, s.events[2]!)) };
    const producer = h.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({ topic: h.pc.EVENTS_TOPIC, acks: -1, messages: [stranger] });
    await producer.disconnect();
    await waitFor(() => (projector.stats.deadLettered === 1 ? true : undefined), { what: 'dead-lettered' });

    // The fix: the stream's events are in the store now.
    await append(h, s.stream, s.events);
    const replay = () =>
      replayDeadLetters({
        kafka: h.kafka,
        dlqTopic: h.pc.EVENTS_DLQ_TOPIC,
        projector: 'redis',
        groupId: `${h.pc.PROJECTOR_GROUP_PREFIX}.redis.dlq-replay`,
        handleBatch: handlerFor(
          redisWriter({ redis: h.redis, store: h.store, config: h.pc, logger: h.logger }),
        ),
        logger: h.logger,
        retry: { maxRetries: 0 },
      });
    expect(await replay()).toEqual({ replayed: 1, failedAgain: 0, skipped: 0 });
    const keys = keyspace(h.pc.READ_MODEL_PREFIX, 1);
    expect(await h.redis.hgetall(keys.schedule(s.open.scheduleId))).toMatchObject({ rev: '2', booked: '2' });
    expect(await replay()).toEqual({ replayed: 0, failedAgain: 0, skipped: 0 });
  });
});

function fakeRecorded(streamId: string, revision: number, event: ScheduleEvent): RecordedEvent {
  return {
    id: crypto.randomUUID(),
    streamId,
    revision: BigInt(revision),
    globalPosition: 0n,
    checkpoint: '0:0',
    type: event.type,
    data: event.data,
    metadata: stampSchemaVersion(event.type, {}),
    createdAt: new Date(),
  };
}
