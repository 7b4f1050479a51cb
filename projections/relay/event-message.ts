/**
 * The wire format of `booking.events`: one Kafka record per stored event.
 *
 *   key      stream id (so a stream's events stay ordered in one partition)
 *   value    JSON EventEnvelope (below)
 *   headers  event-id, event-type, stream-id, stream-revision, checkpoint, content-type and, when
 *            the event has them, traceparent, correlation-id, causation-id
 */
import type { Message } from 'kafkajs';
import { z } from 'zod';
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

const envelopeSchema = z.object({
  eventId: z.string().min(1),
  streamId: z.string().min(1),
  revision: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  type: z.string().min(1),
  data: z.unknown(),
  metadata: z.record(z.string(), z.unknown()).default({}),
  createdAt: z.string(),
  checkpoint: z.string(),
});

export function envelopeOf(event: RecordedEvent): EventEnvelope {
  return {
    eventId: event.id,
    streamId: event.streamId,
    revision: Number(event.revision),
    type: event.type,
    data: event.data,
    metadata: event.metadata,
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
  };
  const { traceparent, correlationId, causationId } = event.metadata;
  if (typeof traceparent === 'string') headers[EVENT_HEADERS.traceparent] = traceparent;
  if (typeof correlationId === 'string') headers[EVENT_HEADERS.correlationId] = correlationId;
  if (typeof causationId === 'string') headers[EVENT_HEADERS.causationId] = causationId;
  return { key: envelope.streamId, value: JSON.stringify(envelope), headers };
}

export type DecodeResult = { ok: true; envelope: EventEnvelope } | { ok: false; reason: string };

/** Parses a Kafka record back into an envelope; a record that does not parse is poison. */
export function decodeEventMessage(message: Pick<ProjectorMessage, 'value'>): DecodeResult {
  if (!message.value) return { ok: false, reason: 'empty value (tombstone)' };
  let json: unknown;
  try {
    json = JSON.parse(message.value.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: `value is not JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  const parsed = envelopeSchema.safeParse(json);
  if (!parsed.success) {
    return {
      ok: false,
      reason: `not an event envelope: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    };
  }
  return { ok: true, envelope: parsed.data };
}
