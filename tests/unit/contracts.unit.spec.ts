/**
 * The published event contract (contracts/): the committed JSON Schemas are exactly what the zod
 * schemas generate, the relay's records conform to them, and the AsyncAPI document is valid
 * AsyncAPI 3.0 (@asyncapi/parser, offline: every $ref is a local file) and lists every event.
 */
import { latestPatientEventVersions } from '../../domain/patient-events.ts';
import { latestRushEventVersions } from '../../domain/rush.ts';
import { latestSlotEventVersions } from '../../domain/slot-events.ts';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fromFile, Parser } from '@asyncapi/parser';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { driftedContracts } from '../../contracts/generate.ts';
import { eventVersions, payloadFile } from '../../contracts/event-schemas.ts';
import { latestSchemaVersions } from '../../domain/event-versions.ts';
import { scheduleEventTypes } from '../../domain/schedule.ts';
import { toKafkaMessage } from '../../projections/relay/event-message.ts';
import { parseBookingRequest } from '../../requests/request-message.ts';
import { contractsAjv, contractViolations, payloadViolations } from '../support/event-contracts.ts';
import {
  aBooking,
  aCancellation,
  aCapacityChange,
  aClosure,
  anOpenSchedule,
  historyOf,
} from '../support/schedule-mother.ts';
import { unversionedStoredEvents } from '../support/unversioned-events.ts';

const ASYNCAPI = fileURLToPath(new URL('../../contracts/asyncapi.yaml', import.meta.url));

describe('contracts/events: JSON Schemas generated from the zod schemas', () => {
  it('are committed exactly as `npm run contracts:generate` writes them', async () => {
    expect(await driftedContracts(), 'run: npm run contracts:generate').toEqual([]);
  });

  it('cover every event type at its latest version', () => {
    const latest = eventVersions().filter(
      ({ type, version }) => latestSchemaVersions[type as never] === version,
    );
    expect(latest.map((v) => v.type).sort()).toEqual([...scheduleEventTypes].sort());
  });

  it('accept what the decider emits and refuse what it never would', () => {
    const open = anOpenSchedule({ capacity: 3 });
    const booking = aBooking(open.scheduleId);
    const events = historyOf(
      open,
      booking,
      aCancellation(booking.appointmentId),
      aCapacityChange(5),
      aClosure(),
    );
    const ajv = contractsAjv();
    for (const e of events) {
      const version = latestSchemaVersions[e.type];
      expect(payloadViolations(ajv, e.type, version, JSON.parse(JSON.stringify(e.data)))).toEqual([]);
    }
    const { patientRef: _, ...withoutPatient } = events[1]!.data as Record<string, unknown>;
    expect(payloadViolations(ajv, 'AppointmentBooked', 2, withoutPatient)).not.toEqual([]);
    // v2 never carries the id in clear: a v2 booking with only `patientId` is refused.
    expect(
      payloadViolations(ajv, 'AppointmentBooked', 2, { ...withoutPatient, patientId: 'p1' }),
    ).not.toEqual([]);
  });

  it("accept today's stored events and the records the relay now publishes for them", () => {
    const ajv = contractsAjv();
    for (const e of unversionedStoredEvents()) {
      expect(payloadViolations(ajv, e.type, 1, e.data)).toEqual([]);
      expect(contractViolations(ajv, toKafkaMessage(e)), e.type).toEqual([]);
    }
  });

  it('refuse a record whose data does not match its type and version', () => {
    const ajv = contractsAjv();
    const [opened] = unversionedStoredEvents();
    const message = toKafkaMessage({ ...opened!, data: { ...(opened!.data as object), capacity: -1 } });
    expect(contractViolations(ajv, message).join('\n')).toContain('/data/capacity');
  });
});

describe('contracts/asyncapi.yaml', () => {
  const raw = parseYaml(readFileSync(ASYNCAPI, 'utf8')) as {
    channels: Record<string, { address: string; messages: Record<string, { $ref: string }> }>;
    components: {
      messages: Record<string, { payload: { allOf?: { properties?: { data?: { $ref: string } } }[] } }>;
    };
  };

  // The parser loads and lints the whole document: seconds of CPU on a busy 2-core machine.
  it('is valid AsyncAPI 3.0, with every $ref resolved (offline)', async () => {
    const { document, diagnostics } = await fromFile(new Parser(), ASYNCAPI).parse();
    // Severity 0 = error, 1 = warning; the one piece of information (2) only suggests AsyncAPI 3.1.
    const problems = diagnostics
      .filter((d) => Number(d.severity) <= 1)
      .map((d) => `${d.code} ${d.path.join('.')}: ${d.message}`);
    expect(problems).toEqual([]);
    expect(document?.version()).toBe('3.0.0');
    expect(
      document
        ?.channels()
        .all()
        .map((c) => c.address()),
    ).toEqual(
      expect.arrayContaining([
        'booking.events',
        'booking.events.dlq',
        'booking.requests',
        'catalog.public.institutions',
        'catalog.public.departments',
        'catalog.public.doctors',
        'catalog.public.homepage_content',
        'catalog.projections.dlq',
      ]),
    );
  }, 30_000);

  it('describes every event type of booking.events with the schema of its latest version', () => {
    const events = Object.values(raw.channels).find((c) => c.address === 'booking.events')!;
    const listed = Object.values(events.messages).map((m) => m.$ref.replace('#/components/messages/', ''));
    const latest: Record<string, number> = {
      ...latestSchemaVersions,
      ...latestSlotEventVersions,
      ...latestPatientEventVersions,
      ...latestRushEventVersions,
    };
    expect(listed.sort()).toEqual(Object.keys(latest).sort());
    for (const [type, version] of Object.entries(latest)) {
      const data = raw.components.messages[type]!.payload.allOf?.find((s) => s.properties?.data)?.properties
        ?.data;
      expect(data?.$ref, type).toBe(`./events/${payloadFile(type, version)}`);
    }
  });
});

describe('contracts/events/booking-request.schema.json (booking.requests)', () => {
  const message = {
    v: 1,
    requestId: '9b2f0a52-1c1e-4a43-9d55-0f3c3d1e8a10',
    appointmentId: '4e7d6c1b-8a2f-4b3e-9c1d-2a5b6c7d8e9f',
    scheduleId: 's-1',
    patientRef: 'pr_1',
    patient: 'v1.a2V5.bm9uY2U.Y2lwaGVy',
    actor: { id: 'pr_1', role: 'patient' },
    acceptedAt: '2026-11-30T08:00:00.012Z',
  };

  it('accepts what the command API produces (the processor parses it) and refuses a request without the sealed patient', () => {
    expect(parseBookingRequest(Buffer.from(JSON.stringify(message)))).toEqual(message);
    const validate = contractsAjv().getSchema('booking-request.schema.json')!;
    expect(validate(message), JSON.stringify(validate.errors)).toBe(true);
    const { patient: _, ...withoutPatient } = message;
    expect(validate({ ...withoutPatient, patientId: 'p1' })).toBe(false);
  });
});
