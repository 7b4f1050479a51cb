import type { IHeaders, KafkaMessage, Producer } from 'kafkajs';

/** One Kafka record as a projector sees it: bytes plus string headers and where it came from. */
export interface ProjectorMessage {
  topic: string;
  partition: number;
  /** Kafka offset (a decimal string, as kafkajs reports it). */
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  /** Header values decoded as UTF-8 (the first value when a header repeats). */
  headers: Record<string, string>;
  timestamp: string;
}

export function decodeHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  // for…in, not Object.entries: every record of every chunk passes here (no entry arrays).
  for (const name in headers) {
    if (!Object.hasOwn(headers, name)) continue;
    const raw = headers[name];
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (value === undefined) continue;
    out[name] = typeof value === 'string' ? value : value.toString();
  }
  return out;
}

export function toProjectorMessage(
  topic: string,
  partition: number,
  message: KafkaMessage,
): ProjectorMessage {
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key,
    value: message.value,
    headers: decodeHeaders(message.headers),
    timestamp: message.timestamp,
  };
}

/** Headers a dead-lettered message carries on top of its original headers. */
export const DLQ_HEADERS = {
  reason: 'dlq-reason',
  projector: 'dlq-projector',
  topic: 'dlq-original-topic',
  partition: 'dlq-original-partition',
  offset: 'dlq-original-offset',
  failedAt: 'dlq-failed-at',
} as const;

/** A record to dead-letter, and why. */
export interface PoisonMessage {
  message: ProjectorMessage;
  reason: string;
}

/**
 * Publishes poison messages to the dead-letter topic: original key, value and headers, plus why and
 * whence. Shared by the projectors and the delivery ingest (`projector` = `delivery`).
 */
export async function deadLetter(
  producer: Producer,
  dlqTopic: string,
  projector: string,
  poison: readonly PoisonMessage[],
): Promise<void> {
  if (poison.length === 0) return;
  const failedAt = new Date().toISOString();
  await producer.send({
    topic: dlqTopic,
    acks: -1,
    messages: poison.map(({ message, reason }) => ({
      key: message.key,
      value: message.value,
      headers: {
        ...message.headers,
        [DLQ_HEADERS.reason]: reason.slice(0, 2000),
        [DLQ_HEADERS.projector]: projector,
        [DLQ_HEADERS.topic]: message.topic,
        [DLQ_HEADERS.partition]: String(message.partition),
        [DLQ_HEADERS.offset]: message.offset,
        [DLQ_HEADERS.failedAt]: failedAt,
      },
    })),
  });
}
