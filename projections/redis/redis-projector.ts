import { decodeEventMessage } from '../relay/event-message.ts';
import type { ProjectorMessage } from '../runtime/messages.ts';
import type { BatchHandler, PoisonMessage } from '../runtime/projector-runtime.ts';
import type { RedisReadModelWriter, WriteItem } from './redis-writer.ts';

/** The Redis projector's batch handler: decode, then one guarded write per stream (redis-writer.ts). */
export function redisProjectionHandler(writer: RedisReadModelWriter): BatchHandler {
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
