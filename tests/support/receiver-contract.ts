/**
 * The hospital receiver contract (contracts/hospital-receiver.openapi.yaml) for tests: the document
 * itself, and its Delivery schema compiled with ajv (draft 2020-12, as OpenAPI 3.1 schemas are).
 */
import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';

const CONTRACT = new URL('../../contracts/hospital-receiver.openapi.yaml', import.meta.url);

export const receiverContract = (): Record<string, unknown> =>
  parse(readFileSync(CONTRACT, 'utf8')) as Record<string, unknown>;

/** Validates one delivery body as it travelled; `errors` says why not. */
export function deliverySchema(): ValidateFunction {
  // OpenAPI keywords (description on a $ref sibling, format on a union type) are not ajv's strict mode.
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats.default(ajv);
  const doc = receiverContract();
  ajv.addSchema({ $id: 'receiver', components: doc.components });
  const validate = ajv.getSchema('receiver#/components/schemas/Delivery');
  if (!validate) throw new Error('the receiver contract has no Delivery schema');
  return validate;
}
