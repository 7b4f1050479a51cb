import { createRequire } from 'node:module';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka, createTopicsWithLeaders, defaultPartitioner } from '../../platform/kafka.ts';
import { testConfig } from '../support/test-config.ts';
import { uniqueName, waitFor } from '../support/wait.ts';

// Proves kafkajs 2.2.4 works against the Kafka 4.x broker (KIP-896 removed old protocol versions):
// an idempotent acks=all producer, a consumer group join, fetch, and offset commit.
describe('kafkajs against the real broker', () => {
  const config = testConfig();
  let kafka: Kafka;
  const topic = uniqueName('smoke.kafka');

  beforeAll(async () => {
    kafka = createKafka(config, undefined, uniqueName('smoke'));
    const admin = kafka.admin();
    await admin.connect();
    await createTopicsWithLeaders(admin, [{ topic, numPartitions: 3 }]);
    await admin.disconnect();
  });

  afterAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('createTopicsWithLeaders: on return every partition has a leader; a topic that exists is no error', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const fresh = uniqueName('smoke.led');
      await createTopicsWithLeaders(admin, [{ topic: fresh, numPartitions: 4 }]);
      const { topics } = await admin.fetchTopicMetadata({ topics: [fresh] });
      const leaders = topics[0]?.partitions.map((p) => p.leader) ?? [];
      expect(leaders).toHaveLength(4);
      expect(leaders.every((l) => l >= 0)).toBe(true);
      // Two processes ensuring the same topic at once: the second finds it made.
      await expect(
        createTopicsWithLeaders(admin, [{ topic: fresh, numPartitions: 4 }]),
      ).resolves.toBeUndefined();
      await admin.deleteTopics({ topics: [fresh] });
    } finally {
      await admin.disconnect();
    }
  });

  it('round-trips keyed messages with headers, in order per key, and commits offsets', async () => {
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: defaultPartitioner,
    });
    await producer.connect();
    const sent = Array.from({ length: 30 }, (_, i) => ({
      key: `stream-${i % 3}`,
      value: `event-${i}`,
      headers: { n: String(i) },
    }));
    await producer.send({ topic, acks: -1, messages: sent });
    await producer.disconnect();

    const groupId = uniqueName('smoke-group');
    const consumer = kafka.consumer({ groupId });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received: { key: string; value: string; n: string }[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        received.push({
          key: message.key!.toString(),
          value: message.value!.toString(),
          n: message.headers!.n!.toString(),
        });
      },
    });
    await waitFor(() => (received.length >= sent.length ? true : undefined), { what: 'all 30 messages' });

    expect(received).toHaveLength(30);
    for (const key of ['stream-0', 'stream-1', 'stream-2']) {
      const ns = received.filter((r) => r.key === key).map((r) => Number(r.n));
      expect(ns).toEqual([...ns].sort((a, b) => a - b));
      expect(ns).toHaveLength(10);
    }

    // Offsets are committed asynchronously after each batch: wait for the group to record all 30.
    const admin = kafka.admin();
    await admin.connect();
    const committed = await waitFor(
      async () => {
        const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
        const sum = offsets[0]!.partitions.reduce((total, p) => total + Math.max(0, Number(p.offset)), 0);
        return sum === 30 ? sum : undefined;
      },
      { what: 'committed offsets to reach 30' },
    );
    await admin.disconnect();
    await consumer.disconnect();
    expect(committed).toBe(30);
  });

  it('an idle connection stops checking its request queue: no timer each millisecond (kafkajs#1704)', async () => {
    const queue = createRequire(import.meta.url)('kafkajs/src/network/requestQueue/index.js') as {
      prototype: { checkPendingRequests: (this: unknown) => void };
    };
    const original = queue.prototype.checkPendingRequests;
    let checks = 0;
    queue.prototype.checkPendingRequests = function (this: unknown) {
      checks += 1;
      original.call(this);
    };
    const producer = kafka.producer({ createPartitioner: defaultPartitioner });
    try {
      await producer.connect();
      await producer.send({ topic, messages: [{ key: 'idle', value: 'x' }] });
      checks = 0;
      await new Promise((r) => setTimeout(r, 500));
      // Unpatched, each connection re-arms a 1 ms timer after its last answer: hundreds here.
      console.log(`[kafka-smoke] request-queue checks in 500 ms idle: ${checks}`);
      expect(checks).toBeLessThan(25);
    } finally {
      queue.prototype.checkPendingRequests = original;
      await producer.disconnect();
    }
  });
});
