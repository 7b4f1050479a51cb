/**
 * The relay's one `sendBatch`, continuing each event's trace: an event whose metadata carries a
 * W3C `traceparent` (the request that appended it) gets a PRODUCER span `send <topic>` under that
 * parent, and its record's `traceparent` header names that span, so the projectors' spans join
 * the booking's trace. The send itself runs with tracing suppressed: the kafkajs instrumentation
 * would otherwise give every record of the batch one parent (the relay loop's, i.e. a new trace)
 * and overwrite the headers with it. Without the SDK the header is the stored traceparent as is.
 */
import type { Producer } from 'kafkajs';
import {
  contextOfTraceparent,
  SpanKind,
  toTraceparent,
  tracer,
  untraced,
  type Span,
} from '../../platform/context.ts';
import type { RecordedEvent } from '../../platform/event-store/event-store.ts';
import { EVENT_HEADERS, toKafkaMessage } from './event-message.ts';

export async function sendTraced(producer: Producer, topic: string, events: readonly RecordedEvent[]) {
  const spans: Span[] = [];
  const messages = events.map((event) => {
    const message = toKafkaMessage(event);
    const stored = event.metadata.traceparent;
    if (typeof stored !== 'string') return message;
    const span = tracer().startSpan(
      `send ${topic}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          'messaging.system': 'kafka',
          'messaging.operation.type': 'send',
          'messaging.destination.name': topic,
          'messaging.kafka.message.key': event.streamId,
          'booking.event.type': event.type,
          'booking.event.id': event.id,
        },
      },
      contextOfTraceparent(stored),
    );
    if (span.isRecording()) {
      spans.push(span);
      const headers = (message.headers ??= {});
      headers[EVENT_HEADERS.traceparent] = toTraceparent(span.spanContext());
    }
    return message;
  });
  try {
    return await untraced(() => producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages }] }));
  } catch (err) {
    for (const span of spans)
      span.setStatus({ code: 2, message: err instanceof Error ? err.message : String(err) });
    throw err;
  } finally {
    for (const span of spans) span.end();
  }
}
