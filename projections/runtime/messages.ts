import type { IHeaders, KafkaMessage } from 'kafkajs';

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
  for (const [name, raw] of Object.entries(headers)) {
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (value === undefined) continue;
    out[name] = typeof value === 'string' ? value : value.toString('utf8');
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
