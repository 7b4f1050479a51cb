import type { Kafka } from 'kafkajs';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka, createTopicsWithLeaders } from '../../platform/kafka.ts';
import { createLogger } from '../../platform/logger.ts';
import {
  DLQ_HEADERS,
  PoisonError,
  runProjector,
  type ProjectorMessage,
} from '../../projections/runtime/index.ts';
import { testConfig } from '../support/test-config.ts';
import { uniqueName, waitFor } from '../support/wait.ts';

describe('projector runtime on the real broker', () => {
  const config = testConfig();
  const logger = createLogger('test', 'silent');
  let kafka: Kafka;
  const topic = uniqueName('rt.events');
  const dlq = uniqueName('rt.dlq');
  const lagTopic = uniqueName('rt.lag');

  beforeAll(async () => {
    kafka = createKafka(config, undefined, uniqueName('rt'));
    const admin = kafka.admin();
    await admin.connect();
    await createTopicsWithLeaders(admin, [
      { topic, numPartitions: 3 },
      { topic: dlq, numPartitions: 1 },
      { topic: lagTopic, numPartitions: 3 },
    ]);
    await admin.disconnect();
  });

  afterAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic, dlq, lagTopic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('applies batches, dead-letters a poison message with its origin, commits, and reports lag 0', async () => {
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const values = Array.from({ length: 40 }, (_, i) => (i === 17 ? 'poison' : `v${i}`));
    await producer.send({
      topic,
      acks: -1,
      messages: values.map((value, i) => ({ key: `k${i % 5}`, value, headers: { n: String(i) } })),
    });

    const seen = new Set<string>();
    let flaky = 2; // two transient failures first: retried, never dead-lettered
    const projector = await runProjector({
      kafka,
      name: uniqueName('rt-projector'),
      topics: [topic],
      dlqTopic: dlq,
      logger,
      retry: { maxRetries: 2, initialDelayMs: 10, maxDelayMs: 50 },
      handleBatch: async (messages: readonly ProjectorMessage[]) => {
        if (flaky-- > 0) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        if (messages.some((m) => m.value?.toString() === 'poison')) throw new PoisonError('cannot parse');
        for (const m of messages) seen.add(m.value!.toString());
      },
    });
    await projector.ready;

    await waitFor(async () => ((await projector.lag()) === 0 && seen.size === 39 ? true : undefined), {
      what: 'lag 0 and 39 applied',
      timeoutMs: 30_000,
    });
    expect(seen.has('poison')).toBe(false);
    expect(projector.stats.deadLettered).toBe(1);
    await projector.stop();

    const consumer = kafka.consumer({ groupId: uniqueName('rt-dlq-reader') });
    await consumer.connect();
    await consumer.subscribe({ topic: dlq, fromBeginning: true });
    const dead: { value: string; headers: Record<string, string> }[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        const headers = Object.fromEntries(
          Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]),
        );
        dead.push({ value: message.value!.toString(), headers });
      },
    });
    await waitFor(() => (dead.length > 0 ? true : undefined), { what: 'the dead letter' });
    await consumer.disconnect();
    await producer.disconnect();

    expect(dead).toHaveLength(1);
    expect(dead[0]!.value).toBe('poison');
    expect(dead[0]!.headers[DLQ_HEADERS.reason]).toContain('cannot parse');
    expect(dead[0]!.headers[DLQ_HEADERS.topic]).toBe(topic);
    expect(dead[0]!.headers[DLQ_HEADERS.offset]).toMatch(/^\d+$/);
    expect(dead[0]!.headers.n).toBe('17');
  });

  it('/metrics shows the lag per topic partition next to the total', async () => {
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    // 5 messages on partition 0, 3 on partition 1, none on partition 2.
    const placed = [0, 0, 0, 0, 0, 1, 1, 1].map((partition, i) => ({ partition, value: `m${i}` }));
    await producer.send({ topic: lagTopic, acks: -1, messages: placed });
    await producer.disconnect();

    // The handler holds the first batch until the end: nothing is committed, so every message counts.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let batches = 0;
    const registry = new Registry();
    const name = uniqueName('rt-lag');
    const projector = await runProjector({
      kafka,
      name,
      topics: [lagTopic],
      logger,
      registry,
      handleBatch: async () => {
        batches += 1;
        await held;
      },
    });
    try {
      await projector.ready;
      await waitFor(() => (batches > 0 ? true : undefined), { what: 'the first batch', timeoutMs: 30_000 });
      const text = await registry.metrics();
      const series = (partition: number) =>
        new RegExp(
          `^projection_partition_lag_events\\{projector="${name}",topic="${lagTopic}",partition="${partition}"\\} (\\d+)$`,
          'm',
        ).exec(text)?.[1];
      expect([series(0), series(1), series(2)]).toEqual(['5', '3', '0']);
      expect(text).toMatch(new RegExp(`^projection_lag_events\\{projector="${name}"\\} 8$`, 'm'));
    } finally {
      release();
      await projector.stop();
    }
    // Stopped: its lag series leave the scrape (its message counters stay, as counters do).
    expect(await registry.metrics()).not.toMatch(new RegExp(`lag_events\\{projector="${name}"`));
  });
});
