/**
 * Two Redis projector instances in one consumer group share the topic's six partitions
 * (docs/adr/0021): a child process (`projections/main.ts` with only the Redis projector) and one
 * in this process. The child is killed with SIGKILL between its writes and its offset commit; the
 * other takes its partitions over after the group's session timeout and finishes the work: every
 * schedule's read model then has every event applied once, in order (nothing lost, nothing
 * applied twice; the comparison with a from-scratch rebuild after a crash is projections-crash's). The relay's
 * standby taking over its lock is covered by relay.int.
 */
import { AssignerProtocol, type Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toKafkaMessage } from '../../projections/relay/event-message.ts';
import { consumerGroupLag } from '../../projections/runtime/lag.ts';
import { keyspace } from '../../read-models/bookings.ts';
import {
  appendInChunks,
  appliedEventCount,
  dumpKeyspace,
  projectionsHarness,
  type Harness,
} from '../support/projections-harness.ts';
import { aScheduleHistory } from '../support/schedule-mother.ts';
import { uniqueName, waitFor } from '../support/wait.ts';
import { createTopicsWithLeaders } from '../../platform/kafka.ts';

let h: Harness;
let admin: Admin;
const topic = uniqueName('test.instances.events');

beforeAll(async () => {
  h = await projectionsHarness();
  admin = h.kafka.admin();
  await admin.connect();
  await createTopicsWithLeaders(admin, [{ topic, numPartitions: 6 }]);
}, 60_000);

afterAll(async () => {
  await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin?.disconnect();
  await h?.close();
});

/** A schedule's events as the decider produces them, appended in chunks of 7 (several commands). */
async function recordSchedule(institutionId: string, bookings: number, cancels: number) {
  const s = aScheduleHistory(bookings, cancels, { institutionId, departmentId: `${institutionId}-dept` });
  return { scheduleId: s.scheduleId, recorded: await appendInChunks(h.store, s.stream, s.events, 7) };
}

/** Partitions of the topic each live member of the group owns. */
async function assignments(groupId: string): Promise<number[][]> {
  const { groups } = await admin.describeGroups([groupId]);
  return (groups[0]?.members ?? []).map((m) => {
    const decoded = AssignerProtocol.MemberAssignment.decode(m.memberAssignment);
    return [...(decoded?.assignment[topic] ?? [])].sort((a, b) => a - b);
  });
}

describe('two projector instances', () => {
  it('kill -9 of one hands its partitions to the other: every event applied once', async () => {
    const groupId = `${h.pc.PROJECTOR_GROUP_PREFIX}.redis`;
    const env = {
      PROJECTIONS_COMPONENTS: 'redis',
      EVENTS_TOPIC: topic,
      PROJECTOR_BATCH_SIZE: '10',
      // 100 ms between a batch's writes and its offset commit: the kill lands there.
      PROJECTIONS_TEST_AFTER_WRITE_DELAY_MS: '100',
    };
    const t0 = Date.now();
    const [child, survivor] = await Promise.all([
      h.spawnProjections(env),
      h.startProjector('redis', { topic }),
    ]);
    await waitFor(
      async () => {
        const owned = await assignments(groupId);
        return owned.length === 2 && owned.every((p) => p.length === 3) ? owned : undefined;
      },
      { what: 'both instances owning three partitions', timeoutMs: 30_000 },
    );
    console.log(`[instances] both instances in the group after ${Date.now() - t0} ms`);

    const schedules = await Promise.all(
      Array.from({ length: 8 }, (_, i) => recordSchedule(uniqueName(`inst-${i}`), 40, 9)),
    );
    const producer = h.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: schedules.flatMap((s) => s.recorded).map(toKafkaMessage),
    });
    await producer.disconnect();

    const keys = keyspace(h.pc.READ_MODEL_PREFIX, 1);
    const appliedEvents = () =>
      appliedEventCount(
        h.redis,
        (id) => keys.schedule(id),
        schedules.map((s) => s.scheduleId),
      );
    await waitFor(async () => ((await appliedEvents()) >= 50 ? true : undefined), {
      what: '50 of 400 events applied',
      timeoutMs: 30_000,
      intervalMs: 10,
    });
    await child.kill9();
    const lagAtKill = (await consumerGroupLag(admin, groupId, [topic])).total;
    console.log(
      `[instances] killed one projector at ${await appliedEvents()} of 400 applied, group lag ${lagAtKill}`,
    );
    expect(lagAtKill).toBeGreaterThan(0);

    const killedAt = Date.now();
    await waitFor(
      async () => ((await consumerGroupLag(admin, groupId, [topic])).total === 0 ? true : undefined),
      { what: 'group lag 0 with one instance left', timeoutMs: 60_000 },
    );
    console.log(
      `[instances] the survivor finished the killed one's partitions ${Date.now() - killedAt} ms after the kill`,
    );
    expect(await assignments(groupId)).toEqual([[0, 1, 2, 3, 4, 5]]);
    await survivor.stop();
    const shared = await dumpKeyspace(h.redis, keys.prefix);
    console.log(`[instances] checked ${Date.now() - t0} ms after the start`);
    // Each schedule: its 50 events applied in order, once (rev 49), 40 booked − 9 cancelled.
    for (const s of schedules) {
      expect(shared[`:schedule:${s.scheduleId}`]).toMatchObject({ booked: '31', rev: '49' });
    }
  }, 120_000);
});
