/**
 * The event contract on real engines (docs/adr/0009-event-versions.md):
 *  - producer: what the real relay publishes onto a test topic validates, record by record, against
 *    the committed JSON Schemas (ajv), for events stored without a version (today's rows) and with one;
 *  - consumers: a record of an unknown schema version goes to the dead-letter topic with the reason
 *    `unknown schema version 99 of AppointmentBooked`, and the events after it in the same partition
 *    are applied.
 */
import { latestSchemaVersions } from '../../domain/event-versions.ts';
import { randomUUID } from 'node:crypto';
import type { KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stampSchemaVersion } from '../../domain/event-versions.ts';
import { decide, fold, scheduleStreamName, type ScheduleEvent } from '../../domain/schedule.ts';
import type { RecordedEvent } from '../../platform/event-store/event-store.ts';
import { toKafkaMessage } from '../../projections/relay/event-message.ts';
import { DLQ_HEADERS } from '../../projections/runtime/messages.ts';
import { keyspace } from '../../read-models/bookings.ts';
import { book, openSchedule, randomPatient, startCommandApi } from '../support/command-api-harness.ts';
import { contractsAjv, contractViolations } from '../support/event-contracts.ts';
import { projectionsHarness, type Harness } from '../support/projections-harness.ts';
import {
  aBooking,
  aCancellation,
  aCapacityChange,
  aClosure,
  anOpenSchedule,
} from '../support/schedule-mother.ts';
import { uniqueName, waitFor } from '../support/wait.ts';

let h: Harness;

beforeAll(async () => {
  h = await projectionsHarness();
});

afterAll(async () => {
  await h?.close();
});

/** Reads `topic` from the beginning (own group) until `enough` accepts what arrived. */
async function consumeUntil(
  topic: string,
  enough: (seen: KafkaMessage[]) => boolean,
  what: string,
): Promise<KafkaMessage[]> {
  const consumer = h.kafka.consumer({ groupId: uniqueName('test-contract-reader') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen: KafkaMessage[] = [];
  await consumer.run({ eachMessage: async ({ message }) => void seen.push(message) });
  try {
    await waitFor(() => (enough(seen) ? true : undefined), { what, timeoutMs: 30_000 });
    return seen;
  } finally {
    await consumer.disconnect();
  }
}

const headersOf = (m: KafkaMessage): Record<string, string> =>
  Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, String(v)]));

describe('producer: the relay publishes records that match the committed contract', () => {
  it('every record, of events stored unversioned or by the command API, validates against contracts/events/', async () => {
    const relay = await h.startRelay();
    // Decided and stored by the harness (stamped with the versions written)…
    const legacy = anOpenSchedule({ capacity: 3 });
    const booking = aBooking(legacy.scheduleId);
    for (const command of [
      legacy,
      booking,
      aCancellation(booking.appointmentId),
      aCapacityChange(4),
      aClosure(),
    ]) {
      await h.execute(legacy.scheduleId, command);
    }
    // …and by the real command API (the patient sealed through the vault, docs/adr/0010).
    const api = await startCommandApi();
    let scheduleId: string;
    try {
      scheduleId = await openSchedule(api);
      expect((await book(api, scheduleId, randomPatient())).status).toBe(201);
    } finally {
      await api.stop();
    }
    const versioned = await h.store.readStream(scheduleStreamName(scheduleId));
    expect(versioned.map((e) => [e.type, e.metadata.schemaVersion])).toEqual([
      ['ScheduleOpened', latestSchemaVersions.ScheduleOpened],
      ['AppointmentBooked', latestSchemaVersions.AppointmentBooked],
    ]);
    const streams = new Set([scheduleStreamName(legacy.scheduleId), scheduleStreamName(scheduleId)]);
    const stored =
      (await h.store.readStream(scheduleStreamName(legacy.scheduleId))).length + versioned.length;

    const ours = (seen: KafkaMessage[]) => seen.filter((m) => streams.has(String(m.key)));
    const records = ours(
      await consumeUntil(
        h.pc.EVENTS_TOPIC,
        (seen) => ours(seen).length >= stored,
        `${stored} relayed records`,
      ),
    );
    await relay.stop();

    const ajv = contractsAjv();
    expect(new Set(records.map((m) => headersOf(m)['event-type']))).toEqual(
      new Set([
        'ScheduleOpened',
        'AppointmentBooked',
        'AppointmentCancelled',
        'CapacityChanged',
        'ScheduleClosed',
      ]),
    );
    for (const record of records) {
      expect(contractViolations(ajv, record), String(record.value)).toEqual([]);
      const type = headersOf(record)['event-type'] as keyof typeof latestSchemaVersions;
      expect(headersOf(record)['schema-version']).toBe(String(latestSchemaVersions[type]));
    }
  });
});

describe('consumers: an unknown schema version is dead-lettered with its reason', () => {
  /** Events of a schedule as the store would hand them out (not stored: only these records carry them). */
  function recorded(scheduleId: string, events: ScheduleEvent[]): RecordedEvent[] {
    return events.map((e, revision) => ({
      id: randomUUID(),
      streamId: scheduleStreamName(scheduleId),
      revision: BigInt(revision),
      globalPosition: 0n,
      checkpoint: '0:0',
      type: e.type,
      data: e.data,
      metadata: stampSchemaVersion(e.type, {}),
      createdAt: new Date(),
    }));
  }

  it('schema-version 99 lands in the DLQ with `unknown schema version 99 of AppointmentBooked`; later events apply', async () => {
    const redis = await h.startProjector('redis');
    const search = await h.startProjector('search');

    // A record from a newer producer: AppointmentBooked v99 (its data is not even v1-shaped).
    const newer = anOpenSchedule();
    const [newerBooked] = recorded(newer.scheduleId, [
      { type: 'AppointmentBooked', data: { appointmentId: randomUUID() } } as unknown as ScheduleEvent,
    ]);
    const poison = toKafkaMessage({ ...newerBooked!, metadata: { schemaVersion: 99 } });
    expect(poison.headers?.['schema-version']).toBe('99');

    // Then, in the same partition, a schedule this build can read.
    const open = anOpenSchedule({ capacity: 2 });
    const later = aBooking(open.scheduleId);
    const laterEvents: ScheduleEvent[] = [];
    for (const command of [open, later]) {
      const decision = decide(command, fold(laterEvents));
      if (!decision.ok) throw new Error(decision.error.code);
      laterEvents.push(...decision.events);
    }
    const producer = h.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({
      topic: h.pc.EVENTS_TOPIC,
      acks: -1,
      messages: [poison, ...recorded(open.scheduleId, laterEvents).map(toKafkaMessage)].map((m) => ({
        ...m,
        partition: 0,
      })),
    });
    await producer.disconnect();

    const keys = keyspace(h.pc.READ_MODEL_PREFIX, 1);
    await waitFor(
      async () => ((await h.redis.hget(keys.schedule(open.scheduleId), 'rev')) === '1' ? true : undefined),
      { what: 'the schedule after the poison applied in Redis' },
    );
    await waitFor(
      async () => ((await h.engine.get(h.pc.APPOINTMENTS_ALIAS, later.appointmentId)) ? true : undefined),
      { what: 'the booking after the poison indexed' },
    );

    const isOurs = (m: KafkaMessage) => String(m.key) === scheduleStreamName(newer.scheduleId);
    const dead = (
      await consumeUntil(
        h.pc.EVENTS_DLQ_TOPIC,
        (seen) => seen.filter(isOurs).length >= 2,
        'the v99 record dead-lettered by both projectors',
      )
    ).filter(isOurs);
    const headers = dead.map(headersOf);
    expect(headers.map((x) => x[DLQ_HEADERS.projector]).sort()).toEqual([redis.name, search.name].sort());
    for (const x of headers) {
      expect(x[DLQ_HEADERS.reason]).toBe('unknown schema version 99 of AppointmentBooked');
      expect(x[DLQ_HEADERS.topic]).toBe(h.pc.EVENTS_TOPIC);
      expect(x[DLQ_HEADERS.partition]).toBe('0');
      expect(x['schema-version']).toBe('99');
    }
    expect(redis.stats.deadLettered).toBeGreaterThanOrEqual(1);
    expect(search.stats.deadLettered).toBeGreaterThanOrEqual(1);
  });
});
