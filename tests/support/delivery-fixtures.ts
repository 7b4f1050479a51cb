/**
 * Fixtures of the hospital delivery tests and benchmark (docs/adr/0016): integrated institutions
 * (an endpoint row, a signing secret and a reference receiver each) and a feed that appends
 * schedule events to the real event store and publishes them, as the relay does, to a topic of
 * the test's own. Everything carries random ids and is removed by `cleanup`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Producer } from 'kafkajs';
import { latestSchemaVersions } from '../../domain/event-versions.ts';
import type { ScheduleEventType } from '../../domain/schedule-events.ts';
import { startHisMock, type HisMock, type HisMockOptions } from '../../integration/his-mock/his-mock.ts';
import type { Config } from '../../platform/config.ts';
import type { EventToAppend } from '../../platform/event-store/event-store.ts';
import { PgEventStore } from '../../platform/event-store/pg-event-store.ts';
import { createKafka, ensureTopics } from '../../platform/kafka.ts';
import { patientVault } from '../../platform/patient-vault.ts';
import type { Pool } from '../../platform/pg.ts';
import { toKafkaMessage } from '../../projections/relay/event-message.ts';

export interface Institution {
  id: string;
  secret: string;
  mock: HisMock;
}

export async function givenInstitution(
  pool: Pool,
  opts: Omit<HisMockOptions, 'secret'> & {
    timeoutMs?: number;
    rateLimitPerS?: number;
    mockSecret?: () => string;
  } = {},
): Promise<Institution> {
  const id = `inst-${randomUUID().slice(0, 12)}`;
  const secret = randomBytes(24).toString('base64url');
  const mock = await startHisMock({ ...opts, secret: opts.mockSecret ?? (() => secret) });
  await pool.query(
    `INSERT INTO institution_endpoints (institution_id, url, rate_limit_per_s, timeout_ms) VALUES ($1, $2, $3, $4)`,
    [id, mock.url, opts.rateLimitPerS ?? 1000, opts.timeoutMs ?? 2_000],
  );
  await pool.query(
    `INSERT INTO delivery_private.institution_signing_secrets (institution_id, secret) VALUES ($1, $2)`,
    [id, secret],
  );
  return { id, secret, mock };
}

/** The test's events topic, created as the worker creates it (6 partitions) before anything is published. */
export async function ensureEventsTopic(
  config: Pick<Config, 'KAFKA_BROKERS' | 'KAFKA_CLIENT_ID'>,
  topic: string,
) {
  const admin = createKafka(config).admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic, numPartitions: 6, replicationFactor: 1 }]).finally(() =>
    admin.disconnect(),
  );
}

const traceparent = () => `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;

/** Appends schedule events and publishes them; remembers what it touched for `cleanup`. */
export class EventFeed {
  readonly streams: string[] = [];
  readonly patientIds: string[] = [];
  readonly #store: PgEventStore;
  readonly #vault;
  readonly #revisions = new Map<string, number>();

  constructor(
    private readonly pool: Pool,
    config: Pick<Config, 'PATIENT_KEK'>,
    private readonly producer: Producer,
    private readonly topic: string,
  ) {
    this.#store = new PgEventStore(pool);
    this.#vault = patientVault(pool, config);
  }

  async #append(scheduleId: string, events: { type: ScheduleEventType; data: object }[]): Promise<string[]> {
    const streamId = `schedule-${scheduleId}`;
    const expected = this.#revisions.get(streamId) ?? 'no_stream';
    const toAppend: EventToAppend[] = events.map((e) => ({
      type: e.type,
      data: e.data,
      metadata: { schemaVersion: latestSchemaVersions[e.type], traceparent: traceparent() },
    }));
    const result = await this.#store.appendToStream(streamId, toAppend, expected);
    this.#revisions.set(streamId, Number(result.nextExpectedRevision));
    await this.producer.send({ topic: this.topic, messages: result.events.map(toKafkaMessage) });
    return result.events.map((e) => e.id);
  }

  async openSchedule(institutionId: string): Promise<string> {
    const scheduleId = randomUUID();
    this.streams.push(`schedule-${scheduleId}`);
    const at = new Date().toISOString();
    await this.#append(scheduleId, [
      {
        type: 'ScheduleOpened',
        data: {
          scheduleId,
          doctorId: 'doctor-1',
          institutionId,
          departmentId: 'dept-1',
          date: '2030-01-15',
          period: 'morning',
          sessionStartsAt: '2030-01-15T00:00:00.000Z',
          capacity: 500,
          fee: 0,
          openedBy: { id: 'h1', role: 'hospital' },
          openedAt: at,
        },
      },
    ]);
    return scheduleId;
  }

  /** `count` bookings in one append; their appointment ids, patients and event ids in order. */
  async book(scheduleId: string, count: number) {
    const bookings = [];
    for (let i = 0; i < count; i++) {
      const patientId = `patient-${randomUUID().slice(0, 12)}`;
      this.patientIds.push(patientId);
      const { patientRef, patient } = await this.#vault.resolve(patientId);
      bookings.push({ appointmentId: randomUUID(), patientId, patientRef, patient });
    }
    const eventIds = await this.#append(
      scheduleId,
      bookings.map((b) => ({
        type: 'AppointmentBooked',
        data: {
          scheduleId,
          appointmentId: b.appointmentId,
          patientRef: b.patientRef,
          patient: b.patient,
          bookedAt: new Date().toISOString(),
        },
      })),
    );
    return bookings.map((b, i) => ({ ...b, eventId: eventIds[i]! }));
  }

  async cancel(scheduleId: string, appointmentId: string, patientRef: string): Promise<string> {
    const [id] = await this.#append(scheduleId, [
      {
        type: 'AppointmentCancelled',
        data: {
          scheduleId,
          appointmentId,
          patientRef,
          reason: null,
          cancelledBy: { id: patientRef, role: 'patient' },
          cancelledAt: new Date().toISOString(),
        },
      },
    ]);
    return id!;
  }

  async cleanup(institutions: readonly Institution[]): Promise<void> {
    const ids = institutions.map((i) => i.id);
    await Promise.all(institutions.map((i) => i.mock.close()));
    await this.pool.query('DELETE FROM delivery_outbox WHERE institution_id = ANY($1)', [ids]);
    await this.pool.query('DELETE FROM delivery_sequences WHERE institution_id = ANY($1)', [ids]);
    await this.pool.query('DELETE FROM institution_endpoints WHERE institution_id = ANY($1)', [ids]);
    await this.pool.query(
      'DELETE FROM delivery_private.institution_signing_secrets WHERE institution_id = ANY($1)',
      [ids],
    );
    await this.pool.query('DELETE FROM events WHERE stream_id = ANY($1)', [this.streams]);
    await this.pool.query('DELETE FROM event_streams WHERE stream_id = ANY($1)', [this.streams]);
    await this.pool.query('DELETE FROM patient_keys WHERE patient_id = ANY($1)', [this.patientIds]);
  }
}
