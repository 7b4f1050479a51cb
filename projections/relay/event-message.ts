/**
 * The wire format of `booking.events`: one Kafka record per stored event (the contract:
 * contracts/asyncapi.yaml, JSON Schemas in contracts/events/, generated from the schemas below).
 *
 *   key      stream id (so a stream's events stay ordered in one partition)
 *   value    JSON EventEnvelope (below)
 *   headers  event-id, event-type, stream-id, stream-revision, checkpoint, content-type,
 *            schema-version and, when the event has them, traceparent, correlation-id, causation-id
 *
 * The schema version of the event's data is its stored `metadata.schemaVersion` (absent on events
 * stored before versions existed: 1). The relay publishes it twice: in the envelope's metadata
 * (always set, so a value read without its headers still says what it is) and as the
 * `schema-version` header (so a consumer can route or refuse a record without parsing it).
 */
import type { Message } from 'kafkajs';
import { z } from 'zod';
import { SCHEMA_VERSION_KEY, UNVERSIONED } from '../../domain/event-versions.ts';
import type { EventMetadata, RecordedEvent } from '../../platform/event-store/event-store.ts';
import type { ProjectorMessage } from '../runtime/messages.ts';

export const EVENT_HEADERS = {
  eventId: 'event-id',
  eventType: 'event-type',
  streamId: 'stream-id',
  streamRevision: 'stream-revision',
  checkpoint: 'checkpoint',
  traceparent: 'traceparent',
  correlationId: 'correlation-id',
  causationId: 'causation-id',
  contentType: 'content-type',
  schemaVersion: 'schema-version',
} as const;

/** A stored event as projectors see it, whether it came from Kafka or straight from the event store. */
export interface EventEnvelope {
  eventId: string;
  streamId: string;
  /** Stream revision (0 = first event of the stream): the idempotency guard of every projector. */
  revision: number;
  type: string;
  data: unknown;
  metadata: EventMetadata;
  createdAt: string;
  checkpoint: string;
}

const schemaVersion = z
  .number()
  .int()
  .min(1)
  .describe('Version of the schema of `data` for this `type` (contracts/events/<type>.v<N>.schema.json)');

const metadataFields = {
  correlationId: z.string().optional(),
  causationId: z.string().optional(),
  traceparent: z.string().optional().describe('W3C traceparent of the request that produced the event'),
  idempotencyKey: z.string().optional(),
  actor: z.looseObject({ id: z.string(), role: z.string() }).optional(),
};

/**
 * The envelope as consumers accept it: tolerant of metadata (not theirs to judge) but for its
 * schema version, which records of an older relay do not carry (= 1).
 */
export const envelopeSchema = z.object({
  eventId: z.string().min(1),
  streamId: z.string().min(1).describe('The Kafka key too: `schedule-<scheduleId>` for schedules'),
  revision: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  type: z.string().min(1),
  data: z.unknown().describe('The event, as the JSON Schema of its type and schema version reads it'),
  metadata: z.looseObject({ [SCHEMA_VERSION_KEY]: schemaVersion.optional() }).default({}),
  createdAt: z.string().describe('When the event was stored, ISO-8601'),
  checkpoint: z.string().describe("The event's position in the store's global order (opaque)"),
});

/** The envelope as the relay publishes it: the schema version is always there; the known metadata. */
export const publishedEnvelopeSchema = envelopeSchema.extend({
  metadata: z.looseObject({ [SCHEMA_VERSION_KEY]: schemaVersion, ...metadataFields }),
});

const decimal = z.string().regex(/^(0|[1-9]\d*)$/);

/** The headers of every record the relay publishes (Kafka header values are UTF-8 strings). */
export const publishedHeadersSchema = z.looseObject({
  [EVENT_HEADERS.eventId]: z.string().min(1),
  [EVENT_HEADERS.eventType]: z.string().min(1).describe('= envelope.type'),
  [EVENT_HEADERS.streamId]: z.string().min(1).describe('= envelope.streamId = the record key'),
  [EVENT_HEADERS.streamRevision]: decimal.describe('= envelope.revision'),
  [EVENT_HEADERS.checkpoint]: z.string().min(1),
  [EVENT_HEADERS.contentType]: z.literal('application/json'),
  [EVENT_HEADERS.schemaVersion]: z
    .string()
    .regex(/^[1-9]\d*$/)
    .describe('= envelope.metadata.schemaVersion; absent on records of an older relay (= 1)'),
  [EVENT_HEADERS.traceparent]: z.string().optional(),
  [EVENT_HEADERS.correlationId]: z.string().optional(),
  [EVENT_HEADERS.causationId]: z.string().optional(),
});

/** The stored metadata, with the version an unversioned event has by definition. */
const versioned = (metadata: EventMetadata): EventMetadata =>
  Object.hasOwn(metadata, SCHEMA_VERSION_KEY) ? metadata : { ...metadata, [SCHEMA_VERSION_KEY]: UNVERSIONED };

export function envelopeOf(event: RecordedEvent): EventEnvelope {
  return {
    eventId: event.id,
    streamId: event.streamId,
    revision: Number(event.revision),
    type: event.type,
    data: event.data,
    metadata: versioned(event.metadata),
    createdAt: event.createdAt.toISOString(),
    checkpoint: event.checkpoint,
  };
}

export function toKafkaMessage(event: RecordedEvent): Message {
  const envelope = envelopeOf(event);
  const headers: Record<string, string> = {
    [EVENT_HEADERS.eventId]: envelope.eventId,
    [EVENT_HEADERS.eventType]: envelope.type,
    [EVENT_HEADERS.streamId]: envelope.streamId,
    [EVENT_HEADERS.streamRevision]: String(envelope.revision),
    [EVENT_HEADERS.checkpoint]: envelope.checkpoint,
    [EVENT_HEADERS.contentType]: 'application/json',
    [EVENT_HEADERS.schemaVersion]: String(envelope.metadata[SCHEMA_VERSION_KEY]),
  };
  const { traceparent, correlationId, causationId } = event.metadata;
  if (typeof traceparent === 'string') headers[EVENT_HEADERS.traceparent] = traceparent;
  if (typeof correlationId === 'string') headers[EVENT_HEADERS.correlationId] = correlationId;
  if (typeof causationId === 'string') headers[EVENT_HEADERS.causationId] = causationId;
  return { key: envelope.streamId, value: JSON.stringify(envelope), headers };
}

export type DecodeResult = { ok: true; envelope: EventEnvelope } | { ok: false; reason: string };

/**
 * Parses a Kafka record back into an envelope; a record that does not parse is poison. The
 * `schema-version` header, when there is one, is the version (and must agree with the value's).
 */
export function decodeEventMessage(message: Pick<ProjectorMessage, 'value' | 'headers'>): DecodeResult {
  if (!message.value) return { ok: false, reason: 'empty value (tombstone)' };
  let json: unknown;
  try {
    json = JSON.parse(message.value.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: `value is not JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  const fast = plainEnvelope(json);
  if (fast) return withHeaderVersion(fast, message.headers[EVENT_HEADERS.schemaVersion]);
  const parsed = envelopeSchema.safeParse(json);
  if (!parsed.success) {
    return {
      ok: false,
      reason: `not an event envelope: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    };
  }
  return withHeaderVersion(parsed.data, message.headers[EVENT_HEADERS.schemaVersion]);
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isFilled = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/**
 * The envelope the relay publishes, checked by hand: what `envelopeSchema` accepts and returns for
 * a well-formed record (the same eight fields, unknown ones dropped), without zod's per-record
 * cost on the projectors' hot path. Anything it is not sure of (a missing metadata, a field of
 * another type) gets `undefined`, and the schema decides — and words the rejection — as before.
 */
function plainEnvelope(json: unknown): EventEnvelope | undefined {
  if (!isRecord(json)) return undefined;
  const { eventId, streamId, revision, type, data, metadata, createdAt, checkpoint } = json;
  if (!isFilled(eventId) || !isFilled(streamId) || !isFilled(type)) return undefined;
  if (typeof revision !== 'number' || !Number.isSafeInteger(revision) || revision < 0) return undefined;
  if (typeof createdAt !== 'string' || typeof checkpoint !== 'string' || !('data' in json)) return undefined;
  if (!isRecord(metadata)) return undefined;
  const version = metadata[SCHEMA_VERSION_KEY];
  if (
    version !== undefined &&
    !(typeof version === 'number' && Number.isSafeInteger(version) && version >= 1)
  )
    return undefined;
  return {
    eventId,
    streamId,
    revision,
    type,
    data,
    metadata,
    createdAt,
    checkpoint,
  };
}

function withHeaderVersion(envelope: EventEnvelope, header: string | undefined): DecodeResult {
  if (header === undefined) return { ok: true, envelope };
  if (!/^[1-9]\d{0,8}$/.test(header)) {
    return { ok: false, reason: `invalid schema-version header ${JSON.stringify(header)}` };
  }
  const version = Number(header);
  const inValue = envelope.metadata[SCHEMA_VERSION_KEY];
  // The relay's records: the value already says what the header says, nothing to copy.
  if (inValue === version) return { ok: true, envelope };
  if (inValue !== undefined && inValue !== version) {
    return {
      ok: false,
      reason: `schema-version header ${version} disagrees with metadata.schemaVersion ${JSON.stringify(inValue)}`,
    };
  }
  return {
    ok: true,
    envelope: { ...envelope, metadata: { ...envelope.metadata, [SCHEMA_VERSION_KEY]: version } },
  };
}
