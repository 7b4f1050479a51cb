/**
 * Crash tests: the relay and the Redis projector run as child processes (`projections/main.ts`
 * under tsx) and are killed with SIGKILL in the middle of their work, then restarted.
 */
import type { KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../platform/event-store/event-store.ts';
import { keyspace, rootPrefix } from '../../read-models/bookings.ts';
import { toKafkaMessage } from '../../projections/relay/event-message.ts';
import { loadCheckpoint, relayLag, saveCheckpoint } from '../../projections/relay/relay.ts';
import { consumerGroupLag } from '../../projections/runtime/lag.ts';
import {
  appendInChunks,
  appliedEventCount,
  latestCheckpoint,
  deleteKeys,
  dumpKeyspace,
  projectionsHarness,
  type Harness,
} from '../support/projections-harness.ts';
import { aScheduleHistory } from '../support/schedule-mother.ts';
import { uniqueName, waitFor } from '../support/wait.ts';
import { createTopicsWithLeaders } from '../../platform/kafka.ts';

let h: Harness;

beforeAll(async () => {
  h = await projectionsHarness();
});

afterAll(async () => {
  await h?.close();
});

/** A schedule's events as the decider produces them: open, `bookings` bookings, `cancels` cancellations. */
const scheduleEvents = (institutionId: string, bookings: number, cancels: number) =>
  aScheduleHistory(bookings, cancels, { institutionId, departmentId: `${institutionId}-dept` });

async function readTopic(topic: string): Promise<KafkaMessage[]> {
  const admin = h.kafka.admin();
  await admin.connect();
  const total = (await admin.fetchTopicOffsets(topic)).reduce(
    (n, p) => n + Number(p.high) - Number(p.low),
    0,
  );
  await admin.disconnect();
  const consumer = h.kafka.consumer({ groupId: uniqueName('test-reader') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen: KafkaMessage[] = [];
  await consumer.run({ eachMessage: async ({ message }) => void seen.push(message) });
  await waitFor(() => (seen.length >= total ? true : undefined), {
    what: `${total} messages`,
    timeoutMs: 60_000,
  });
  await consumer.disconnect();
  return seen;
}

async function publishedCount(): Promise<number> {
  const admin = h.kafka.admin();
  await admin.connect();
  const n = (await admin.fetchTopicOffsets(h.pc.EVENTS_TOPIC)).reduce((sum, p) => sum + Number(p.high), 0);
  await admin.disconnect();
  return n;
}

async function checkpointedCount(): Promise<number> {
  const { rows } = await h.pool.query<{ published: string }>(
    'SELECT published FROM relay_checkpoints WHERE name = $1',
    [h.pc.RELAY_NAME],
  );
  return Number(rows[0]?.published ?? 0);
}

describe('crash safety', () => {
  it('kill -9 of the relay mid-stream loses no event; duplicates stay within one batch', async () => {
    const batch = 50;
    const relayEnv = {
      PROJECTIONS_COMPONENTS: 'relay',
      RELAY_BATCH_SIZE: String(batch),
      RELAY_MAX_IDLE_MS: '20',
    };
    const start = await latestCheckpoint(h.pool);
    if (start) await saveCheckpoint(h.pool, h.pc.RELAY_NAME, start, 0);
    // Kafka acks, then 100 ms before the checkpoint is saved: the kill very likely lands there.
    let relay = await h.spawnProjections({ ...relayEnv, RELAY_TEST_AFTER_SEND_DELAY_MS: '100' });

    const ids = new Set<string>();
    const schedules = Array.from({ length: 30 }, (_, i) => scheduleEvents(`relay-inst-${i}`, 40, 9));
    const writer = (async () => {
      for (const s of schedules) {
        for (const e of await appendInChunks(h.store, s.stream, s.events, 10)) ids.add(e.id);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    await waitFor(
      async () => {
        const { rows } = await h.pool.query<{ published: string }>(
          'SELECT published FROM relay_checkpoints WHERE name = $1',
          [h.pc.RELAY_NAME],
        );
        return Number(rows[0]?.published ?? 0) >= 300 ? true : undefined;
      },
      { what: 'the relay to publish 300 events', timeoutMs: 60_000 },
    );
    await new Promise((r) => setTimeout(r, 60)); // into the next batch's ack-to-checkpoint window
    await relay.kill9();
    const atKill = await loadCheckpoint(h.pool, h.pc.RELAY_NAME);
    const inFlight = (await publishedCount()) - (await checkpointedCount());
    relay = await h.spawnProjections(relayEnv);
    await writer;
    await waitFor(
      async () =>
        (await relayLag(h.pool, await loadCheckpoint(h.pool, h.pc.RELAY_NAME))) === 0 ? true : undefined,
      { what: 'relay lag 0 after the restart', timeoutMs: 60_000 },
    );
    await relay.stop();
    expect(atKill).toBeDefined();

    const messages = await readTopic(h.pc.EVENTS_TOPIC);
    const counts = new Map<string, number>();
    for (const m of messages) {
      const id = String(m.headers?.['event-id']);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    const missing = [...ids].filter((id) => !counts.has(id));
    // Duplicates over the whole topic (the in-flight batch may hold other tests' events too).
    const duplicates = [...counts.values()].reduce((n, c) => n + c - 1, 0);
    console.log(
      `[relay crash] appended ${ids.size}; at the kill ${inFlight} event(s) were acked but not checkpointed; ` +
        `topic holds ${messages.length} records, ${duplicates} duplicate(s)`,
    );
    expect(ids.size).toBe(30 * 50);
    expect(missing).toEqual([]);
    expect(duplicates).toBeLessThanOrEqual(batch);
    expect(duplicates).toBe(inFlight);

    // Per-stream order survives: in its partition, a stream's revisions first appear in order.
    const firstSeen = new Map<string, number[]>();
    for (const m of messages) {
      const stream = String(m.key);
      const rev = Number(String(m.headers?.['stream-revision']));
      const list = firstSeen.get(stream) ?? [];
      if (!list.includes(rev)) list.push(rev);
      firstSeen.set(stream, list);
    }
    for (const s of schedules) {
      const revs = firstSeen.get(s.stream) ?? [];
      expect(revs).toEqual([...revs].sort((a, b) => a - b));
      expect(revs).toHaveLength(50);
    }
  });

  it('kill -9 of the Redis projector mid-batch, then restart: the read model equals a from-scratch rebuild', async () => {
    // Only this test's events, published straight to a fresh topic (the shared database's other
    // traffic would otherwise flow through a relay into it).
    const topic = uniqueName('test.crash.events');
    const admin = h.kafka.admin();
    await admin.connect();
    await createTopicsWithLeaders(admin, [{ topic, numPartitions: 6 }]);
    const schedules = Array.from({ length: 30 }, (_, i) => scheduleEvents(`proj-inst-${i}`, 40, 9));
    const recorded: RecordedEvent[] = [];
    for (const s of schedules) recorded.push(...(await appendInChunks(h.store, s.stream, s.events, 7)));
    const producer = h.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: recorded.map(toKafkaMessage) });
    await producer.disconnect();

    const groupId = `${h.pc.PROJECTOR_GROUP_PREFIX}.redis`;
    const projectorEnv = {
      PROJECTIONS_COMPONENTS: 'redis',
      EVENTS_TOPIC: topic,
      PROJECTOR_BATCH_SIZE: '25',
      PROJECTOR_PARTITION_CONCURRENCY: '1',
    };
    // 200 ms between the writes and the offset commit of every batch: the kill lands there.
    let child = await h.spawnProjections({ ...projectorEnv, PROJECTIONS_TEST_AFTER_WRITE_DELAY_MS: '200' });
    const keys = keyspace(h.pc.READ_MODEL_PREFIX, 1);
    const appliedEvents = () =>
      appliedEventCount(
        h.redis,
        (id) => keys.schedule(id),
        schedules.map((s) => s.scheduleId),
      );
    await waitFor(async () => ((await appliedEvents()) >= 300 ? true : undefined), {
      what: '300 events applied',
      timeoutMs: 60_000,
    });
    await child.kill9();

    const lagAtKill = (await consumerGroupLag(admin, groupId, [topic])).total;
    const appliedAtKill = await appliedEvents();
    console.log(`[projector crash] applied ${appliedAtKill} of 1500, group lag at kill ${lagAtKill}`);
    expect(lagAtKill).toBeGreaterThan(0);

    const restartedAt = Date.now();
    child = await h.spawnProjections(projectorEnv);
    await waitFor(
      async () => ((await consumerGroupLag(admin, groupId, [topic])).total === 0 ? true : undefined),
      { what: 'projector lag 0 after the restart', timeoutMs: 90_000 },
    );
    console.log(`[projector crash] caught up ${Date.now() - restartedAt} ms after the restart`);
    await child.stop();

    // From scratch: a fresh group into a fresh key root, over the same topic.
    const scratchRoot = uniqueName('test-rm-scratch');
    const scratch = await h.startProjector('redis', {
      topic,
      groupId: uniqueName('test-scratch'),
      root: scratchRoot,
    });
    await waitFor(async () => ((await scratch.lag()) === 0 ? true : undefined), {
      what: 'scratch projector lag 0',
      timeoutMs: 90_000,
    });
    const recovered = await dumpKeyspace(h.redis, keys.prefix);
    const rebuilt = await dumpKeyspace(h.redis, keyspace(scratchRoot, 1).prefix);
    await deleteKeys(h.redis, `${rootPrefix(scratchRoot)}*`);
    // This test's patient references have no key in the vault, so their bookings are written
    // anonymous (no patient lists, docs/adr/0010): fewer keys than one per event, still plenty.
    expect(Object.keys(recovered).length).toBeGreaterThan(1000);
    expect(recovered).toEqual(rebuilt);
    await scratch.stop();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();

    // And the numbers are right, not just equal: 40 booked − 9 cancelled on each schedule.
    for (const s of schedules.slice(0, 5)) {
      expect(recovered[`:schedule:${s.scheduleId}`]).toMatchObject({ booked: '31', rev: '49' });
    }
  }, 240_000);
});
