/**
 * The committed JSON Schemas of contracts/events/, loaded into ajv (draft 2020-12), to check what
 * a producer writes against the published contract rather than against the code's own zod schemas.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { Message } from 'kafkajs';

const EVENTS_DIR = new URL('../../contracts/events/', import.meta.url);

export function contractsAjv(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  // booking-request.schema.json names its ids' format (uuid), as z.uuid() generates it.
  addFormats.default(ajv);
  for (const file of readdirSync(EVENTS_DIR).filter((f) => f.endsWith('.schema.json'))) {
    // The file name is each schema's id, so the relative $refs between them resolve as on disk.
    ajv.addSchema(JSON.parse(readFileSync(new URL(file, EVENTS_DIR), 'utf8')) as object, file);
  }
  return ajv;
}

const schemaOf = (ajv: Ajv2020, file: string): ValidateFunction => {
  const validate = ajv.getSchema(file);
  if (!validate) throw new Error(`no schema ${file} in contracts/events/`);
  return validate;
};

const errorsOf = (what: string, validate: ValidateFunction): string[] =>
  (validate.errors ?? []).map(
    (e) => `${what}${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
  );

/**
 * What is wrong with one `booking.events` record against the committed contract (empty: nothing):
 * headers, value (envelope and `data` by type and version), key = stream id, header = value fields.
 */
export function contractViolations(
  ajv: Ajv2020,
  message: Pick<Message, 'key' | 'value' | 'headers'>,
): string[] {
  const headers = Object.fromEntries(
    Object.entries(message.headers ?? {}).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString() : v]),
  ) as Record<string, unknown>;
  const value = JSON.parse(String(message.value)) as {
    type?: string;
    streamId?: string;
    revision?: number;
    metadata?: { schemaVersion?: number };
  };
  const out: string[] = [];
  const checkHeaders = schemaOf(ajv, 'headers.schema.json');
  if (!checkHeaders(headers)) out.push(...errorsOf('headers', checkHeaders));
  const checkValue = schemaOf(ajv, 'booking-event.schema.json');
  if (!checkValue(value)) out.push(...errorsOf('value', checkValue));
  const version = value.metadata?.schemaVersion;
  if (
    value.type !== undefined &&
    version !== undefined &&
    !ajv.getSchema(`${value.type}.v${version}.schema.json`)
  )
    out.push(`no schema for ${value.type} v${version}`);
  if (String(message.key) !== value.streamId) out.push(`key ${String(message.key)} is not the stream id`);
  if (headers['event-type'] !== value.type) out.push('event-type header differs from the value');
  if (headers['stream-revision'] !== String(value.revision)) out.push('stream-revision header differs');
  if (headers['schema-version'] !== String(version)) out.push('schema-version header differs from the value');
  return out;
}

/** Validates `data` against `<type>.v<version>.schema.json`. */
export function payloadViolations(ajv: Ajv2020, type: string, version: number, data: unknown): string[] {
  const validate = schemaOf(ajv, `${type}.v${version}.schema.json`);
  return validate(data) ? [] : errorsOf(`${type} v${version} data`, validate);
}
