/**
 * The JSON Schemas (2020-12) of `booking.events`, generated from the zod schemas that the code
 * itself validates with, so the published contract and the code cannot drift:
 *
 *   events/<Type>.v<N>.schema.json   the `data` of every event type, every schema version still
 *                                    readable (the latest from domain/schedule-events.ts, older
 *                                    ones from their upcasters in domain/event-versions.ts)
 *   events/envelope.schema.json      the record value as the relay publishes it
 *   events/headers.schema.json       the record headers as the relay publishes them
 *   events/booking-event.schema.json the value with `data` checked by `type` and schema version
 *   events/booking-request.schema.json a record value of `booking.requests` (rush-mode bookings,
 *                                    docs/adr/0015), from requests/request-message.ts
 *
 * Payloads are generated in zod's `input` mode: unknown fields are allowed, because readers drop
 * them (an additive change keeps the version, docs/adr/0009-event-versions.md).
 */
import { z } from 'zod';
import { scheduleEventUpcasters } from '../domain/event-versions.ts';
import { latestPatientEventVersions, patientEventSchemas } from '../domain/patient-events.ts';
import { latestRushEventVersions, rushEventSchemas } from '../domain/rush.ts';
import { scheduleEventTypes } from '../domain/schedule-events.ts';
import { latestSlotEventVersions, slotEventSchemas } from '../domain/slot-events.ts';
import { publishedEnvelopeSchema, publishedHeadersSchema } from '../projections/relay/event-message.ts';
import { bookingRequestMessage } from '../requests/request-message.ts';

type JsonSchema = Record<string, unknown>;

export const payloadFile = (type: string, version: number): string => `${type}.v${version}.schema.json`;

const toJsonSchema = (schema: z.ZodType, title: string, description: string): JsonSchema => {
  const { $schema, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' });
  return { $schema, title, description, ...rest };
};

/** Every (type, version) a consumer may meet, oldest version first. */
export const eventVersions = (): { type: string; version: number; schema: z.ZodType }[] => [
  ...scheduleEventTypes.flatMap((type) =>
    scheduleEventUpcasters.versions(type).map(({ version, schema }) => ({ type, version, schema })),
  ),
  // Numbered slots, holds, the waitlist and attendance (schedule streams, docs/adr/0012): v1 each.
  ...Object.entries(slotEventSchemas).map(([type, schema]) => ({
    type,
    version: latestSlotEventVersions[type as keyof typeof latestSlotEventVersions],
    schema,
  })),
  // Rush mode of a schedule (schedule streams, docs/adr/0015): v1.
  ...Object.entries(rushEventSchemas).map(([type, schema]) => ({
    type,
    version: latestRushEventVersions[type as keyof typeof latestRushEventVersions],
    schema,
  })),
  // A patient's own stream (`patient-<ref>`, docs/adr/0010): one version each so far.
  ...Object.entries(patientEventSchemas).map(([type, schema]) => ({
    type,
    version: latestPatientEventVersions[type as keyof typeof latestPatientEventVersions],
    schema,
  })),
];

/** The value with its `data` checked against the schema its `type` and version name. */
function bookingEventSchema(): JsonSchema {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'booking.events record value',
    description:
      'envelope.schema.json, with `data` valid against <type>.v<metadata.schemaVersion>.schema.json. ' +
      'A type or version not listed here is not refused by this schema: consumers ignore unknown ' +
      'types and dead-letter unknown versions of known types.',
    allOf: [
      { $ref: 'envelope.schema.json' },
      ...eventVersions().map(({ type, version }) => ({
        if: {
          type: 'object',
          properties: {
            type: { const: type },
            metadata: {
              type: 'object',
              properties: { schemaVersion: { const: version } },
              required: ['schemaVersion'],
            },
          },
          required: ['type', 'metadata'],
        },
        then: { type: 'object', properties: { data: { $ref: payloadFile(type, version) } } },
      })),
    ],
  };
}

/** File name (under contracts/events/) → JSON Schema. */
export function eventContractSchemas(): Map<string, JsonSchema> {
  const files = new Map<string, JsonSchema>();
  for (const { type, version, schema } of eventVersions()) {
    files.set(
      payloadFile(type, version),
      toJsonSchema(
        schema,
        `${type} v${version}`,
        `The \`data\` of the event ${type}, schema version ${version}.`,
      ),
    );
  }
  files.set(
    'envelope.schema.json',
    toJsonSchema(
      publishedEnvelopeSchema,
      'booking.events record value',
      'The JSON envelope of one stored event, as the relay publishes it (projections/relay/event-message.ts).',
    ),
  );
  files.set(
    'headers.schema.json',
    toJsonSchema(
      publishedHeadersSchema,
      'booking.events record headers',
      'Kafka headers of every record the relay publishes (UTF-8 strings).',
    ),
  );
  files.set('booking-event.schema.json', bookingEventSchema());
  files.set(
    'booking-request.schema.json',
    toJsonSchema(
      bookingRequestMessage,
      'booking.requests record value',
      'One booking accepted in rush mode, as the command API produces it and the request processor ' +
        'decides it (requests/request-message.ts, docs/adr/0015). Key: the schedule id. The patient is ' +
        '`patientRef` and `patient` (sealed with their data key), never their id in clear.',
    ),
  );
  return files;
}
