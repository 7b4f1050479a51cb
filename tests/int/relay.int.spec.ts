import type { KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, startRelay, type RelayHandle } from '../../projections/relay/relay.ts';
import { latestCheckpoint, projectionsHarness, type Harness } from '../support/projections-harness.ts';
import { randomStreamId } from '../support/db.ts';
import { uniqueName, waitFor } from '../support/wait.ts';

let h: Harness;

beforeAll(async () => {
  h = await projectionsHarness();
});

afterAll(async () => {
  await h?.close();
});

async function readTopic(topic: string, atLeast: number): Promise<KafkaMessage[]> {
  const consumer = h.kafka.consumer({ groupId: uniqueName('test-reader') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen: KafkaMessage[] = [];
  await consumer.run({ eachMessage: async ({ message }) => void seen.push(message) });
  await waitFor(() => (seen.length >= atLeast ? true : undefined), { what: `${atLeast} messages` });
  await consumer.disconnect();
  return seen;
}

describe('relay', () => {
  it('publishes with key, headers and envelope; one active relay per name, a standby takes over', async () => {
    const start = await latestCheckpoint(h.pool);
    const relay = (name: string) =>
      startRelay({
        name,
        store: h.store,
        pool: h.pool,
        databaseUrl: h.config.DATABASE_URL,
        kafka: h.kafka,
        topic: h.pc.EVENTS_TOPIC,
        logger: h.logger,
        startFrom: start ?? 'beginning',
        maxIdleMs: 20,
      });
    const active: RelayHandle = relay(h.pc.RELAY_NAME);
    await active.ready;
    const standby = relay(h.pc.RELAY_NAME);
    let standbyReady = false;
    void standby.ready.then(() => (standbyReady = true));

    const stream = randomStreamId('relay');
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const first = await h.store.appendToStream(
      stream,
      Array.from({ length: 5 }, (_, n) => ({
        type: 'Something',
        data: { n },
        metadata: { traceparent, correlationId: 'c-1' },
      })),
      'no_stream',
    );
    await waitFor(
      async () => {
        const cp = await loadCheckpoint(h.pool, h.pc.RELAY_NAME);
        return cp && h.store.compareCheckpoints(cp, first.checkpoint) >= 0 ? true : undefined;
      },
      { what: 'the active relay to publish' },
    );
    expect(standbyReady).toBe(false);
    expect(standby.published()).toBe(0);

    await active.stop(); // releases the lock
    await waitFor(() => (standbyReady ? true : undefined), {
      what: 'the standby to take over',
      timeoutMs: 10_000,
    });
    const second = await h.store.appendToStream(stream, [{ type: 'Something', data: { n: 5 } }], 4n);
    await waitFor(
      async () => {
        const cp = await loadCheckpoint(h.pool, h.pc.RELAY_NAME);
        return cp && h.store.compareCheckpoints(cp, second.checkpoint) >= 0 ? true : undefined;
      },
      { what: 'the standby to publish' },
    );
    await standby.stop();

    const mine = (await readTopic(h.pc.EVENTS_TOPIC, 6)).filter((m) => String(m.key) === stream);
    expect(mine.map((m) => String(m.headers?.['stream-revision']))).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(new Set(mine.map((m) => m.headers?.['event-id']?.toString())).size).toBe(6);
    const head = mine[0]!.headers!;
    expect(String(head['event-type'])).toBe('Something');
    expect(String(head.traceparent)).toBe(traceparent);
    expect(String(head['correlation-id'])).toBe('c-1');
    expect(String(head.checkpoint)).toBe(first.events[0]!.checkpoint);
    expect(JSON.parse(String(mine[5]!.value))).toMatchObject({
      streamId: stream,
      revision: 5,
      data: { n: 5 },
    });
  });
});
