import { decodeEventMessage } from './relay/event-message.ts';
import type { WriteItem } from './redis/redis-writer.ts';
import type { PoisonMessage, ProjectorMessage } from './runtime/messages.ts';
import type { BatchHandler } from './runtime/projector-runtime.ts';

/** What a read-model writer of booking events offers: the Redis writer and the search writer alike. */
export interface EventWriter {
  write(
    items: readonly WriteItem<ProjectorMessage>[],
  ): Promise<{ poison: { source: ProjectorMessage; reason: string }[] }>;
}

/**
 * The batch handler of every booking-event projector: decode each message, hand the batch to the
 * writer (one guarded Redis call per stream, or one versioned bulk request), and dead-letter what
 * could not be decoded or applied.
 */
export function eventProjectionHandler(writer: EventWriter): BatchHandler {
  return async (messages) => {
    const poison: PoisonMessage[] = [];
    const items: WriteItem<ProjectorMessage>[] = [];
    for (const message of messages) {
      const decoded = decodeEventMessage(message);
      if (decoded.ok) items.push({ envelope: decoded.envelope, source: message });
      else poison.push({ message, reason: decoded.reason });
    }
    const result = await writer.write(items);
    for (const p of result.poison) poison.push({ message: p.source, reason: p.reason });
    return { poison };
  };
}
