import { decodeEventMessage } from '../relay/event-message.ts';
import type { WriteItem } from '../redis/redis-writer.ts';
import type { ProjectorMessage } from '../runtime/messages.ts';
import type { BatchHandler, PoisonMessage } from '../runtime/projector-runtime.ts';
import type { AppointmentsSearchWriter } from './search-writer.ts';

/** The search projector's batch handler: decode, then one versioned bulk request (search-writer.ts). */
export function searchProjectionHandler(writer: AppointmentsSearchWriter): BatchHandler {
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
