/**
 * Decoding a Kafka record into an envelope: the hand-checked path the projectors take for the
 * relay's records returns what the zod schema returns, and everything the schema refuses is still
 * refused, with the schema's own words.
 */
import { describe, expect, it } from 'vitest';
import { stampSchemaVersion } from '../../domain/event-versions.ts';
import type { RecordedEvent } from '../../platform/event-store/event-store.ts';
import { decodeEventMessage, envelopeSchema, toKafkaMessage } from '../../projections/relay/event-message.ts';
import { decodeHeaders } from '../../projections/runtime/messages.ts';

const event: RecordedEvent = {
  id: 'e-1',
  streamId: 'schedule-s-1',
  revision: 4n,
  globalPosition: 9n,
  checkpoint: '0000000001:0000000009',
  type: 'AppointmentBooked',
  data: { scheduleId: 's-1', appointmentId: 'a-1', patientRef: 'p-1' },
  metadata: stampSchemaVersion('AppointmentBooked', { correlationId: 'c-1' }),
  createdAt: new Date('2030-01-10T09:30:00Z'),
};

const published = toKafkaMessage(event);
const headers = decodeHeaders(published.headers);
const record = (value: unknown, h: Record<string, string> = headers) => ({
  value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
  headers: h,
});
const relayed = JSON.parse(published.value as string) as Record<string, unknown>;

describe('decodeEventMessage', () => {
  it("returns for the relay's record exactly what the schema returns", () => {
    const decoded = decodeEventMessage(record(relayed));
    expect(decoded).toEqual({ ok: true, envelope: envelopeSchema.parse(relayed) });
  });

  it('drops unknown top-level fields as the schema does, and keeps the metadata whole', () => {
    const decoded = decodeEventMessage(record({ ...relayed, extra: 1 }));
    if (!decoded.ok) throw new Error(decoded.reason);
    expect(decoded.envelope).not.toHaveProperty('extra');
    expect(decoded.envelope.metadata).toEqual(relayed.metadata);
  });

  it('fills a missing metadata as the schema does (version 1 from no header)', () => {
    const { metadata: _dropped, ...bare } = relayed;
    const decoded = decodeEventMessage(record(bare, {}));
    expect(decoded).toEqual({ ok: true, envelope: { ...envelopeSchema.parse(bare), metadata: {} } });
  });

  it.each([
    ['an empty event id', { eventId: '' }],
    ['a negative revision', { revision: -1 }],
    ['a fractional revision', { revision: 1.5 }],
    ['a revision as a string', { revision: '4' }],
    ['a type that is not a string', { type: 7 }],
    ['metadata that is an array', { metadata: [] }],
    ['a schema version of 0', { metadata: { schemaVersion: 0 } }],
    ['a createdAt that is not a string', { createdAt: 5 }],
    ['no checkpoint', { checkpoint: undefined }],
  ])('refuses %s with the schema’s reason', (_what, change) => {
    const value = { ...relayed, ...change };
    const zod = envelopeSchema.safeParse(JSON.parse(JSON.stringify(value)));
    expect(zod.success).toBe(false);
    const decoded = decodeEventMessage(record(value, {}));
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.reason).toMatch(/^not an event envelope: /);
  });

  it('still checks the schema-version header against the value', () => {
    expect(decodeEventMessage(record(relayed, { ...headers, 'schema-version': '9' }))).toEqual({
      ok: false,
      reason: `schema-version header 9 disagrees with metadata.schemaVersion ${String((relayed.metadata as { schemaVersion: number }).schemaVersion)}`,
    });
  });
});
