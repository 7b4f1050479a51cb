/**
 * One trace across the asynchronous hops: the command API and the projections (relay, Redis and
 * search projectors) run as child processes with the telemetry preload (as `npm start` runs
 * them), export to the local Zipkin, and a booking sent with a known `traceparent` is found in
 * Zipkin's API as one trace: the HTTP request and its PostgreSQL statements, the relay's send to
 * Kafka, and each projector's processing with its Redis or search calls.
 *
 * Names (topics, relay, groups, key root, index alias) come from the projections harness, i.e.
 * uniqueName(); the children inherit the test run's environment (its database and tag).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../platform/http/auth.ts';
import { type CatalogDoctorIds, givenCatalogDoctor } from '../support/catalog-mother.ts';
import { anOpenScheduleRequest, newKey, TEST_SECRET } from '../support/command-api-harness.ts';
import { freePort } from '../../platform/free-port.ts';
import { projectionsHarness, type Harness } from '../support/projections-harness.ts';
import {
  descendants,
  isPgSpan as isPg,
  isRedisSpan as isRedis,
  requireZipkin,
  serviceOf as service,
  spanName as name,
  spawnTraced,
  traceOf,
  type TracedService,
  type ZipkinSpan,
} from '../support/traced-process.ts';
import { waitFor } from '../support/wait.ts';

describe('one trace across the command API, the relay and the projectors (Zipkin)', () => {
  let h: Harness;
  let api: TracedService;
  let projections: TracedService;
  let baseUrl: string;
  let doctor: CatalogDoctorIds;

  beforeAll(async () => {
    await requireZipkin();
    h = await projectionsHarness();
    doctor = await givenCatalogDoctor(h.pool);
    projections = await spawnTraced(
      'projections/main.ts',
      { ...h.env },
      (l) => l.msg === 'projections ready',
    );
    api = await spawnTraced(
      'command-api/main.ts',
      {
        PORT: String(await freePort()),
        ADMIN_PORT: '0',
        JWT_SECRET: TEST_SECRET,
        PATIENT_COMMANDS_PER_MINUTE: '0',
      },
      (l) => l.msg === 'command API listening',
    );
    baseUrl = `http://127.0.0.1:${String(api.readyLine.port)}`;
  }, 120_000);

  afterAll(async () => {
    await api?.stop();
    await projections?.stop();
    await h?.close();
  });

  async function post(
    path: string,
    role: 'hospital' | 'patient',
    sub: string,
    body: unknown,
    traceparent?: string,
  ) {
    const principal =
      role === 'hospital' ? { sub, role, institutionId: doctor.institutionId } : { sub, role };
    const token = await signToken(TEST_SECRET, principal, { expiresIn: '10m' });
    return fetch(`${baseUrl}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'idempotency-key': newKey(),
        ...(traceparent ? { traceparent } : {}),
      },
      body: JSON.stringify(body),
    });
  }

  /** Waits until Zipkin holds a trace with both projectors' processing spans, and returns it. */
  const projectedTrace = (traceId: string) =>
    waitFor(
      async () => {
        const spans = await traceOf(traceId);
        const done = ['project redis', 'project search'].every((n) => spans.some((s) => name(s) === n));
        return done ? spans : undefined;
      },
      { what: `trace ${traceId} projected by both projectors`, timeoutMs: 45_000, intervalMs: 500 },
    );

  it('follows a booking from the HTTP request to both read models', async () => {
    // The schedule first, projected completely, so the booking's records come in chunks of their own.
    const opened = await post('/v1/schedules', 'hospital', 'hospital-1', anOpenScheduleRequest(doctor));
    expect(opened.status).toBe(201);
    const { scheduleId } = (await opened.json()) as { scheduleId: string };
    const openTrace = opened.headers.get('x-trace-id');
    expect(openTrace).toMatch(/^[0-9a-f]{32}$/);
    await projectedTrace(openTrace!);

    const traceId = randomBytes(16).toString('hex');
    const patientId = `patient-${randomBytes(4).toString('hex')}`;
    const booked = await post(
      '/v1/appointments',
      'patient',
      patientId,
      { scheduleId, patientId },
      `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
    );
    expect(booked.status).toBe(201);
    expect(booked.headers.get('x-trace-id')).toBe(traceId);
    expect(booked.headers.get('traceparent')).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));

    // The event's metadata keeps the trace context the relay publishes.
    const { rows } = await h.pool.query<{ metadata: Record<string, unknown> }>(
      `SELECT metadata FROM events WHERE stream_id = $1 AND event_type = 'AppointmentBooked'`,
      [`schedule-${scheduleId}`],
    );
    expect(rows[0]?.metadata).toMatchObject({
      correlationId: traceId,
      traceparent: expect.stringMatching(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`)),
    });

    const spans = await projectedTrace(traceId);
    const summary = spans.map((s) => `${service(s)} ${s.kind ?? 'LOCAL'} ${name(s)}`).sort();
    console.log(`[tracing] trace ${traceId}: ${spans.length} spans\n  ${summary.join('\n  ')}`);
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([traceId]));

    // The command API: the HTTP request and its PostgreSQL statements, among them the append (a
    // booking appends through the one-statement command_commit(), ADR 0023; other commands INSERT).
    const server = spans.find((s) => service(s) === 'command-api' && s.kind === 'SERVER');
    expect(server, summary.join('\n')).toBeDefined();
    const statements = spans.filter((s) => service(s) === 'command-api' && isPg(s));
    expect(statements.length, summary.join('\n')).toBeGreaterThan(0);
    expect(
      statements.some((s) =>
        /insert\s+into\s+events|command_commit/i.test(Object.values(s.tags ?? {}).join(' ')),
      ),
      summary.join('\n'),
    ).toBe(true);

    // The relay: the send to Kafka, under the command API's span that wrote the event.
    const send = spans.find((s) => service(s) === 'projections' && s.kind === 'PRODUCER');
    expect(send, summary.join('\n')).toBeDefined();
    expect(name(send!)).toBe(`send ${h.pc.EVENTS_TOPIC}`.toLowerCase());
    expect(spans.find((s) => s.id === send!.parentId && service(s) === 'command-api')).toBeDefined();

    // Each projector: its processing span under the send, its store calls under that.
    for (const [projector, isStoreCall] of [
      ['redis', isRedis],
      ['search', (s: ZipkinSpan) => s.kind === 'CLIENT' && !isPg(s) && !isRedis(s)],
    ] as const) {
      const processing = spans.find((s) => name(s) === `project ${projector}`);
      expect(processing, summary.join('\n')).toBeDefined();
      expect(processing!.kind).toBe('CONSUMER');
      expect(processing!.parentId).toBe(send!.id);
      const calls = descendants(spans, processing!).filter((s) => isStoreCall(s));
      expect(calls.length, `${projector} calls\n${summary.join('\n')}`).toBeGreaterThan(0);
    }
  }, 120_000);
});
