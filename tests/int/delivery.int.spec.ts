/**
 * Hospital delivery (docs/adr/0016) on the real engines: events appended to the event store and
 * published to a topic of this file's own reach three reference receivers (healthy, slow, failing
 * half the time) exactly once in effect and in order; the slow one does not hold up the healthy
 * one; a receiver that vanishes gets its head parked after DELIVERY_PARK_AFTER_MS, and an admin's
 * replay delivers the parked and the waiting in order. A delivered event of a schema version this
 * build does not know goes to the worker's dead-letter topic with its reason, never skipped.
 */
import { randomUUID } from 'node:crypto';
import type { KafkaMessage, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryDlqTopic, type DeliverySettings, parseDeliverySettings } from '../../delivery/config.ts';
import { startDelivery, type DeliveryHandle } from '../../delivery/start.ts';
import type { HisMock } from '../../integration/his-mock/his-mock.ts';
import { jwtSettingsOf, signToken } from '../../platform/http/auth.ts';
import { createKafka, defaultPartitioner } from '../../platform/kafka.ts';
import type { Pool } from '../../platform/pg.ts';
import { migrateTestDatabase, testPool } from '../support/db.ts';
import {
  ensureEventsTopic,
  EventFeed,
  givenInstitution,
  type Institution,
} from '../support/delivery-fixtures.ts';
import { testConfig } from '../support/test-config.ts';
import { PgEventStore } from '../../platform/event-store/pg-event-store.ts';
import { toKafkaMessage } from '../../projections/relay/event-message.ts';
import { DLQ_HEADERS } from '../../projections/runtime/messages.ts';
import { uniqueName, waitFor } from '../support/wait.ts';
import { deliverySchema } from '../support/receiver-contract.ts';

const config = testConfig();
const topic = uniqueName('delivery_events');
const settings = (): DeliverySettings => {
  const parsed = parseDeliverySettings({
    DELIVERY_EVENTS_TOPIC: topic,
    DELIVERY_GROUP: uniqueName('delivery'),
    DELIVERY_CONFIG_POLL_MS: '200',
    DELIVERY_POLL_MS: '50',
    DELIVERY_RETRY_BASE_MS: '50',
    DELIVERY_RETRY_MAX_MS: '400',
    DELIVERY_PARK_AFTER_MS: '3000',
    DELIVERY_LEASE_MS: '2000',
    DELIVERY_BREAKER_HALF_OPEN_MS: '200',
  });
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  return parsed.config;
};

let pool: Pool;
let producer: Producer;
let feed: EventFeed;
let worker: DeliveryHandle;
const institutions: Institution[] = [];

beforeAll(async () => {
  await migrateTestDatabase();
  await ensureEventsTopic(config, topic);
  pool = testPool(10);
  producer = createKafka(config).producer({ createPartitioner: defaultPartitioner });
  await producer.connect();
  feed = new EventFeed(pool, config, producer, topic);
});

afterAll(async () => {
  await worker?.stop();
  await producer?.disconnect();
  await feed?.cleanup(institutions);
  await pool?.end();
});

const add = async (opts: Parameters<typeof givenInstitution>[1] = {}) => {
  const i = await givenInstitution(pool, opts);
  institutions.push(i);
  return i;
};

const validDelivery = deliverySchema();

/** Each receiver applied exactly `eventIds`, numbered 1..n, in this order, and saw no gap. */
function expectInOrder(mock: HisMock, institutionId: string, eventIds: readonly string[]) {
  const applied = mock.applied(institutionId);
  expect(applied.map((d) => d.eventId)).toEqual(eventIds);
  expect(applied.map((d) => d.seq)).toEqual(eventIds.map((_, i) => i + 1));
  expect(applied.every((d) => d.idempotencyKey === `${institutionId}:${d.seq}`)).toBe(true);
  expect(mock.gaps).toEqual([]);
  // What the worker sent is what the receiver contract promises (contracts/hospital-receiver.openapi.yaml).
  const misfits = applied.filter((d) => !validDelivery(d.wire)).map((d) => [d.type, validDelivery.errors]);
  expect(misfits).toEqual([]);
}

describe('hospital delivery', () => {
  let healthy: Institution;
  let slow: Institution;
  let failing: Institution;
  const expected = new Map<string, string[]>();

  it('delivers every booking to each receiver once and in order; the slow one holds up no other', async () => {
    healthy = await add();
    slow = await add({ latencyMs: 250 });
    // Half of its answers fail, alternately: never two in a row, so no delivery can fail for the
    // whole park window by chance (with Math.random a run of failures once parked one: a flake).
    let draws = 0;
    failing = await add({ failRate: 0.5, random: () => (draws++ % 2 === 0 ? 0.25 : 0.75) });
    worker = await startDelivery({ config, settings: settings(), migrate: false, port: 0, adminPort: 0 });
    await worker.ready;

    const bookings = new Map<string, Awaited<ReturnType<EventFeed['book']>>>();
    for (const inst of [healthy, slow, failing]) {
      const scheduleId = await feed.openSchedule(inst.id);
      const booked = await feed.book(scheduleId, 12);
      const cancelled = await feed.cancel(scheduleId, booked[0]!.appointmentId, booked[0]!.patientRef);
      bookings.set(inst.id, booked);
      expected.set(inst.id, [...booked.map((b) => b.eventId), cancelled]);
    }
    const started = Date.now();
    await waitFor(() => (healthy.mock.applied().length === 13 ? true : undefined), {
      what: 'the healthy receiver to have all 13',
      timeoutMs: 30_000,
    });
    const healthyDoneMs = Date.now() - started;
    const slowAtThatTime = slow.mock.applied().length;
    // 13 × 250 ms: the slow receiver cannot be done when the healthy one is, unless it waited for it.
    expect(slowAtThatTime).toBeLessThan(13);
    await waitFor(
      () => (slow.mock.applied().length === 13 && failing.mock.applied().length === 13 ? true : undefined),
      { what: 'the slow and the failing receivers to have all 13', timeoutMs: 45_000 },
    );
    console.log(
      `[delivery] healthy complete after ${healthyDoneMs} ms (slow had ${slowAtThatTime}/13); ` +
        `failing receiver refused ${failing.mock.refusals.length} attempts before all 13 were applied`,
    );
    for (const inst of [healthy, slow, failing]) expectInOrder(inst.mock, inst.id, expected.get(inst.id)!);
    expect(failing.mock.refusals.length).toBeGreaterThan(0);

    // What the hospital gets: its patient's id (opened at send time) and the session, never the internal reference.
    const first = healthy.mock.applied()[0]!;
    const b0 = bookings.get(healthy.id)![0]!;
    expect(first.type).toBe('AppointmentBooked');
    expect(first.data).toMatchObject({
      appointmentId: b0.appointmentId,
      patientId: b0.patientId,
      date: '2030-01-15',
    });
    expect(JSON.stringify(healthy.mock.applied())).not.toContain(b0.patientRef);
    expect(first.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    expect(healthy.mock.applied()[12]!.type).toBe('AppointmentCancelled');
  });

  it('parks the head of a vanished receiver after the bounded time, and an admin replays in order', async () => {
    const gone = await add();
    await gone.mock.vanish('down');
    const scheduleId = await feed.openSchedule(gone.id);
    const booked = await feed.book(scheduleId, 4);
    await worker.senders.refresh();
    const rows = async () =>
      (
        await pool.query<{ status: string }>(
          'SELECT status FROM delivery_outbox WHERE institution_id = $1 ORDER BY seq',
          [gone.id],
        )
      ).rows.map((r) => r.status);
    await waitFor(async () => ((await rows())[0] === 'parked' ? true : undefined), {
      what: 'the head parked',
      timeoutMs: 20_000,
    });
    expect(await rows()).toEqual(['parked', 'pending', 'pending', 'pending']);

    const admin = await signToken(jwtSettingsOf(config), { sub: 'ops', role: 'admin' });
    const auth = { authorization: `Bearer ${admin}` };
    const view = (await (await fetch(`${worker.url}/v1/admin/deliveries`, { headers: auth })).json()) as {
      institutions: { institutionId: string; parked: number; pending: number; lastError: string | null }[];
    };
    expect(view.institutions.find((v) => v.institutionId === gone.id)).toMatchObject({
      parked: 1,
      pending: 3,
    });
    const metrics = await (await fetch(`${worker.adminUrl}/metrics`)).text();
    expect(metrics).toContain(`delivery_parked{institution="${gone.id}"} 1`);

    const patient = await signToken(jwtSettingsOf(config), { sub: 'p1', role: 'patient' });
    const refused = await fetch(`${worker.url}/v1/admin/deliveries/${gone.id}/replay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${patient}` },
    });
    expect(refused.status).toBe(403);
    const unknown = await fetch(`${worker.url}/v1/admin/deliveries/nope-${randomUUID()}/replay`, {
      method: 'POST',
      headers: auth,
    });
    expect(unknown.status).toBe(404);

    await gone.mock.revive();
    const replay = await fetch(`${worker.url}/v1/admin/deliveries/${gone.id}/replay`, {
      method: 'POST',
      headers: auth,
    });
    expect(replay.status).toBe(200);
    expect(await replay.json()).toEqual({ institutionId: gone.id, replayed: 1 });
    await waitFor(() => (gone.mock.applied().length === 4 ? true : undefined), {
      what: 'the replay',
      timeoutMs: 20_000,
    });
    expectInOrder(
      gone.mock,
      gone.id,
      booked.map((b) => b.eventId),
    );
  });

  it('a redelivered Kafka record gets no second number', async () => {
    const count = await pool.query<{ n: string; max: string }>(
      'SELECT count(*) AS n, max(seq) AS max FROM delivery_outbox WHERE institution_id = $1',
      [healthy.id],
    );
    // Republish the healthy institution's whole schedule stream (it was opened first): same event ids.
    const events = await new PgEventStore(pool).readStream(feed.streams[0]!);
    expect(events).toHaveLength(14);
    await producer.send({ topic, messages: events.map(toKafkaMessage) });
    const marker = await feed.book(await feed.openSchedule(healthy.id), 1);
    await waitFor(() => (healthy.mock.applied().length === 14 ? true : undefined), {
      what: 'the marker booking',
    });
    const after = await pool.query<{ n: string; max: string }>(
      'SELECT count(*) AS n, max(seq) AS max FROM delivery_outbox WHERE institution_id = $1',
      [healthy.id],
    );
    expect(Number(after.rows[0]!.n)).toBe(Number(count.rows[0]!.n) + 1);
    expect(Number(after.rows[0]!.max)).toBe(14);
    expect(healthy.mock.applied()[13]!.eventId).toBe(marker[0]!.eventId);
  });

  it('dead-letters a delivered event of an unknown schema version with its reason; nothing is queued', async () => {
    // A newer producer's AppointmentBooked v99 on the healthy (integrated) institution's schedule.
    const eventId = randomUUID();
    const record = toKafkaMessage({
      id: eventId,
      streamId: feed.streams[0]!,
      revision: 99n,
      globalPosition: 0n,
      checkpoint: '0:0',
      type: 'AppointmentBooked',
      data: { appointmentId: randomUUID() },
      metadata: { schemaVersion: 99 },
      createdAt: new Date(),
    });
    expect(record.headers?.['schema-version']).toBe('99');
    await producer.send({ topic, acks: -1, messages: [record] });

    const dlq = deliveryDlqTopic(settings());
    const reader = createKafka(config).consumer({ groupId: uniqueName('delivery-dlq-reader') });
    const seen: KafkaMessage[] = [];
    await reader.connect();
    await reader.subscribe({ topic: dlq, fromBeginning: true });
    await reader.run({ eachMessage: async ({ message }) => void seen.push(message) });
    const ours = () => seen.find((m) => String(m.headers?.['event-id']) === eventId);
    try {
      await waitFor(() => ours(), { what: 'the v99 record dead-lettered', timeoutMs: 20_000 });
    } finally {
      await reader.disconnect();
    }
    const headers = Object.fromEntries(Object.entries(ours()!.headers ?? {}).map(([k, v]) => [k, String(v)]));
    expect(headers).toMatchObject({
      [DLQ_HEADERS.reason]: 'unknown schema version 99 of AppointmentBooked',
      [DLQ_HEADERS.projector]: 'delivery',
      [DLQ_HEADERS.topic]: topic,
      'schema-version': '99',
    });
    expect(headers[DLQ_HEADERS.offset]).toMatch(/^\d+$/);
    const queued = await pool.query('SELECT 1 FROM delivery_outbox WHERE event_id = $1', [eventId]);
    expect(queued.rowCount).toBe(0);
  });
});
