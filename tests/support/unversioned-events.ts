/**
 * The fixture tests/fixtures/unversioned-events.json: events stored by the code before schema
 * versions (raw rows of the `events` table) and the Kafka records its relay published for them,
 * turned back into what the adapters hand out today.
 */
import { readFileSync } from 'node:fs';
import type { RecordedEvent } from '../../platform/event-store/event-store.ts';
import type { ProjectorMessage } from '../../projections/runtime/messages.ts';

interface StoredRow {
  global_position: number;
  transaction_id: string;
  event_id: string;
  stream_id: string;
  stream_revision: number;
  event_type: string;
  data: unknown;
  metadata: Record<string, unknown>;
  created_at: string;
}

interface KafkaRecord {
  key: string;
  value: string;
  headers: Record<string, string>;
}

const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/unversioned-events.json', import.meta.url), 'utf8'),
) as { storedRows: StoredRow[]; kafkaRecords: KafkaRecord[] };

/** A row as the PostgreSQL adapter reads it (the mapping of pg-event-store.ts). */
const toRecorded = (row: StoredRow): RecordedEvent => ({
  id: row.event_id,
  streamId: row.stream_id,
  revision: BigInt(row.stream_revision),
  globalPosition: BigInt(row.global_position),
  checkpoint: `${row.transaction_id}:${row.global_position}`,
  type: row.event_type,
  data: row.data,
  metadata: row.metadata,
  createdAt: new Date(row.created_at),
});

const toMessage = (record: KafkaRecord, offset: number): ProjectorMessage => ({
  topic: 'booking.events',
  partition: 0,
  offset: String(offset),
  key: Buffer.from(record.key),
  value: Buffer.from(record.value),
  headers: record.headers,
  timestamp: '0',
});

export const unversionedStoredEvents = (): RecordedEvent[] => fixture.storedRows.map(toRecorded);
export const unversionedKafkaMessages = (): ProjectorMessage[] => fixture.kafkaRecords.map(toMessage);
export const unversionedStreamId = (): string => fixture.storedRows[0]!.stream_id;
