/**
 * Schema versions and upcasters (ADR 0009), exercised with what today's code leaves behind: the
 * fixture of events stored and published before versions existed (tests/fixtures/).
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ScheduleStates } from '../../command-api/schedule-states.ts';
import {
  defineUpcaster,
  latestSchemaVersions,
  patientUpcasters,
  stampSchemaVersion,
  upcasterRegistry,
  upcastScheduleEvent,
} from '../../domain/event-versions.ts';
import { scheduleEventSchemas, scheduleEventTypes } from '../../domain/schedule-events.ts';
import type { RecordedEvent } from '../../platform/event-store/event-store.ts';
import { decodeEventMessage, envelopeOf, toKafkaMessage } from '../../projections/relay/event-message.ts';
import { parseScheduleEvent } from '../../projections/schedule-events.ts';
import { sealingReads, sealLegacyPatients } from '../../platform/legacy-patients.ts';
import {
  unversionedKafkaMessages,
  unversionedStoredEvents,
  unversionedStreamId,
} from '../support/unversioned-events.ts';

const stored = unversionedStoredEvents();

/**
 * The vault's part, pure: each clear id gets a reference and a sealed identity. The real vault
 * (PostgreSQL, AES-GCM) is tested in patient-vault.int.spec.ts; here only the shape change is.
 */
const resolver = {
  resolve: (patientId: string) =>
    Promise.resolve({ patientRef: `ref-of-${patientId.length}`, patient: 'v1.aXY.Y2lwaGVy.dGFn' }),
};
const clearIds = stored.flatMap((e) => {
  const id = (e.data as { patientId?: unknown }).patientId;
  return typeof id === 'string' ? [id] : [];
});

describe("stored events of v1 (no schema version; AppointmentBooked/Cancelled carry the patient's id in clear)", () => {
  it('cover every event type and carry no version', () => {
    expect(new Set(stored.map((e) => e.type))).toEqual(new Set(scheduleEventTypes));
    for (const e of stored) expect(e.metadata).not.toHaveProperty('schemaVersion');
    expect(clearIds.length).toBeGreaterThan(0);
  });

  it('unresolved, an appointment event is refused (the clear id is never passed on); the others pass', () => {
    for (const e of stored) {
      const parsed = parseScheduleEvent(envelopeOf(e));
      if (e.type === 'AppointmentBooked' || e.type === 'AppointmentCancelled') {
        expect(parsed.kind, JSON.stringify(parsed)).toBe('poison');
      } else {
        expect(upcastScheduleEvent(e)).toEqual({ ok: true, data: e.data });
        expect(parsed.kind, JSON.stringify(parsed)).toBe('schedule');
      }
    }
  });

  it('resolved through the vault, become v2: reference in, clear id out (data and patient actor), version restamped', async () => {
    const sealed = await sealLegacyPatients(stored, resolver);
    for (const [i, e] of sealed.entries()) {
      const parsed = parseScheduleEvent(envelopeOf(e));
      expect(parsed.kind, JSON.stringify(parsed)).toBe('schedule');
      for (const id of clearIds) expect(JSON.stringify([e.data, e.metadata])).not.toContain(`"${id}"`);
      if (e.type === 'AppointmentBooked') {
        expect(e.metadata.schemaVersion).toBe(2);
        const { patientId } = stored[i]!.data as { patientId: string };
        expect(e.data).toMatchObject({
          patientRef: `ref-of-${patientId.length}`,
          patient: 'v1.aXY.Y2lwaGVy.dGFn',
        });
      }
    }
  });

  it('fold on the write side (read through the vault) into the state they were decided from', async () => {
    const states = new ScheduleStates();
    const reader = sealingReads({ readStream: async (): Promise<RecordedEvent[]> => stored }, resolver);
    const loaded = await states.load(reader, unversionedStreamId());
    expect(loaded.state.status).toBe('closed');
    expect(loaded.revision).toBe(BigInt(stored.length - 1));
  });

  it('are republished by the relay (reading through the vault) with the version of their new shape', async () => {
    for (const e of await sealLegacyPatients(stored, resolver)) {
      const message = toKafkaMessage(e);
      const version = String(latestSchemaVersions[e.type as keyof typeof latestSchemaVersions]);
      expect(message.headers?.['schema-version']).toBe(e.type.startsWith('Appointment') ? version : '1');
      for (const id of clearIds) expect(String(message.value)).not.toContain(`"${id}"`);
    }
  });
});

describe('Kafka records of v1 (no schema-version header)', () => {
  it('decode, resolve through the vault, upcast and validate as the stored events they came from', async () => {
    const messages = unversionedKafkaMessages();
    expect(messages).toHaveLength(stored.length);
    const fromStore = await sealLegacyPatients(stored, resolver);
    for (const [i, message] of messages.entries()) {
      expect(message.headers).not.toHaveProperty('schema-version');
      const decoded = decodeEventMessage(message);
      if (!decoded.ok) throw new Error(decoded.reason);
      const [envelope] = await sealLegacyPatients([decoded.envelope], resolver);
      const parsed = parseScheduleEvent(envelope!);
      expect(parsed).toEqual(parseScheduleEvent(envelopeOf(fromStore[i]!)));
      expect(parsed.kind).toBe('schedule');
    }
  });
});

describe('unknown and invalid versions are refused with a reason, never guessed at', () => {
  const booked = stored.find((e) => e.type === 'AppointmentBooked')!;
  const message = unversionedKafkaMessages().find((m) => m.headers['event-type'] === 'AppointmentBooked')!;

  it('a newer version in the metadata is poison for the projectors and fails the write side', async () => {
    const newer = { ...booked, metadata: { ...booked.metadata, schemaVersion: 99 } };
    expect(parseScheduleEvent(envelopeOf(newer))).toEqual({
      kind: 'poison',
      reason: 'unknown schema version 99 of AppointmentBooked',
    });
    const reader = { readStream: async (): Promise<RecordedEvent[]> => [newer] };
    await expect(new ScheduleStates().load(reader, booked.streamId)).rejects.toThrow(
      'unknown schema version 99 of AppointmentBooked',
    );
  });

  it('the schema-version header is the version of a record', () => {
    const decoded = decodeEventMessage({
      ...message,
      headers: { ...message.headers, 'schema-version': '99' },
    });
    if (!decoded.ok) throw new Error(decoded.reason);
    expect(parseScheduleEvent(decoded.envelope)).toEqual({
      kind: 'poison',
      reason: 'unknown schema version 99 of AppointmentBooked',
    });
  });

  it('a malformed header, or one that contradicts the value, is poison', () => {
    expect(
      decodeEventMessage({ ...message, headers: { ...message.headers, 'schema-version': 'v1' } }),
    ).toEqual({
      ok: false,
      reason: 'invalid schema-version header "v1"',
    });
    const value = JSON.parse(message.value!.toString()) as { metadata: Record<string, unknown> };
    value.metadata.schemaVersion = 1;
    const contradicted = {
      value: Buffer.from(JSON.stringify(value)),
      headers: { ...message.headers, 'schema-version': '2' },
    };
    expect(decodeEventMessage(contradicted)).toEqual({
      ok: false,
      reason: 'schema-version header 2 disagrees with metadata.schemaVersion 1',
    });
  });

  it('a version that is not a positive integer is refused', () => {
    for (const bad of [0, -1, 1.5, '1', null]) {
      const result = upcastScheduleEvent({ ...booked, metadata: { schemaVersion: bad } });
      expect(result).toEqual({
        ok: false,
        reason: `invalid schema version ${JSON.stringify(bad)} of AppointmentBooked`,
      });
    }
  });

  it('an unknown type passes through, for the tolerant reader to ignore', () => {
    expect(upcastScheduleEvent({ type: 'Future', data: { a: 1 }, metadata: { schemaVersion: 7 } })).toEqual({
      ok: true,
      data: { a: 1 },
    });
  });
});

describe('the write side stamps the version it wrote', () => {
  it('metadata gets the latest version of the type, the rest is kept', () => {
    expect(stampSchemaVersion('AppointmentBooked', { correlationId: 'c' })).toEqual({
      correlationId: 'c',
      schemaVersion: latestSchemaVersions.AppointmentBooked,
    });
  });
});

describe('a breaking change: a hypothetical ScheduleOpened v2 (test only)', () => {
  // v2 carries the fee as an amount with its currency instead of a bare number of fen.
  const scheduleOpenedV2 = scheduleEventSchemas.ScheduleOpened.extend({
    fee: z.object({ amountMinor: z.number().int().nonnegative(), currency: z.literal('CNY') }),
  });
  const v1ToV2 = defineUpcaster({
    type: 'ScheduleOpened',
    from: 1,
    schema: scheduleEventSchemas.ScheduleOpened,
    up: (v1) => ({ ...v1, fee: { amountMinor: v1.fee, currency: 'CNY' } }),
  });
  const registry = upcasterRegistry(
    { ...latestSchemaVersions, ScheduleOpened: 2 },
    { ...scheduleEventSchemas, ScheduleOpened: scheduleOpenedV2 },
    [v1ToV2, ...patientUpcasters],
  );
  const opened = stored.find((e) => e.type === 'ScheduleOpened')!;

  it('lifts a stored v1 event to v2, which the v2 schema accepts', () => {
    const result = registry.upcast('ScheduleOpened', 1, opened.data);
    if (!result.ok) throw new Error(result.reason);
    const v2 = scheduleOpenedV2.parse(result.data);
    expect(v2.fee).toEqual({ amountMinor: (opened.data as { fee: number }).fee, currency: 'CNY' });
    expect({ ...v2, fee: undefined }).toEqual({ ...(opened.data as object), fee: undefined });
  });

  it('leaves v2 as it is, refuses v3 and a v1 that is not v1', () => {
    const v2 = { ...(opened.data as object), fee: { amountMinor: 1, currency: 'CNY' } };
    expect(registry.upcast('ScheduleOpened', 2, v2)).toEqual({ ok: true, data: v2 });
    expect(registry.upcast('ScheduleOpened', 3, v2)).toEqual({
      ok: false,
      reason: 'unknown schema version 3 of ScheduleOpened',
    });
    const result = registry.upcast('ScheduleOpened', 1, { ...(opened.data as object), fee: 'free' });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toMatch(/^ScheduleOpened v1 data does not match its schema: fee: /);
  });

  it('lists every version with its schema, for the published contracts', () => {
    expect(registry.versions('ScheduleOpened')).toEqual([
      { version: 1, schema: scheduleEventSchemas.ScheduleOpened },
      { version: 2, schema: scheduleOpenedV2 },
    ]);
  });

  it('refuses a registry with a hole or a step past the latest version', () => {
    const schemas = { ...scheduleEventSchemas, ScheduleOpened: scheduleOpenedV2 };
    expect(() => upcasterRegistry({ ...latestSchemaVersions, ScheduleOpened: 2 }, schemas, [])).toThrow(
      'no upcaster from v1 of ScheduleOpened',
    );
    expect(() => upcasterRegistry(latestSchemaVersions, scheduleEventSchemas, [v1ToV2])).toThrow(
      'upcaster from v1 of ScheduleOpened does not lead to its latest version',
    );
    expect(() =>
      upcasterRegistry({ ...latestSchemaVersions, ScheduleOpened: 2 }, schemas, [v1ToV2, v1ToV2]),
    ).toThrow('two upcasters for the same version of a type');
  });
});
