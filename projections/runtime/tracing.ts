/**
 * One CONSUMER span per chunk a projector applies, `project <projector>`, continuing the trace of
 * the chunk's first traced record (its `traceparent` header: the relay's send span) and linking
 * the other traces of the chunk. The kafkajs instrumentation's own spans for `eachBatch` hang
 * under a new `poll` trace with links only; this span is what joins the booking's trace, and the
 * projector's Redis, search and PostgreSQL calls are its children. A no-op without the SDK.
 */
import { contextOfTraceparent, inSpan, linkOfTraceparent, SpanKind } from '../../platform/context.ts';
import type { ProjectorMessage } from './messages.ts';

const TRACEPARENT = 'traceparent';

export function chunkSpan<T>(
  projector: string,
  groupId: string,
  chunk: readonly ProjectorMessage[],
  fn: () => Promise<T>,
): Promise<T> {
  const traced = [...new Set(chunk.map((m) => m.headers[TRACEPARENT]).filter((t) => t !== undefined))];
  const [first, ...others] = traced;
  const links = others.map(linkOfTraceparent).filter((l) => l !== undefined);
  const head = chunk[0];
  return inSpan(
    `project ${projector}`,
    {
      parent: contextOfTraceparent(first),
      kind: SpanKind.CONSUMER,
      links,
      attributes: {
        'messaging.system': 'kafka',
        'messaging.operation.type': 'process',
        'messaging.destination.name': head?.topic ?? '',
        'messaging.destination.partition.id': String(head?.partition ?? ''),
        'messaging.consumer.group.name': groupId,
        'messaging.batch.message_count': chunk.length,
        'messaging.kafka.offset': head?.offset ?? '',
        'booking.projector': projector,
      },
    },
    fn,
  );
}
