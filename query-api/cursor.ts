import { createHash } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../platform/http/errors.ts';

/**
 * Opaque keyset cursors: the position after which the next page starts, bound to the query it
 * came from, so a cursor replayed against another filter is a 400, not a wrong page.
 */
const payload = z.strictObject({ q: z.string(), after: z.array(z.union([z.string(), z.number()])).min(1) });

export const queryFingerprint = (parts: Record<string, unknown>): string =>
  createHash('sha1').update(JSON.stringify(parts)).digest('base64url').slice(0, 10);

export function encodeCursor(fingerprint: string, after: (string | number)[]): string {
  return Buffer.from(JSON.stringify({ q: fingerprint, after })).toString('base64url');
}

export function decodeCursor(
  cursor: string | undefined,
  fingerprint: string,
): (string | number)[] | undefined {
  if (cursor === undefined) return undefined;
  const invalid = (reason: string) =>
    new AppError('bad_parameter', `Invalid cursor: ${reason}`, {
      invalidParams: [{ name: 'cursor', reason }],
    });
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid('not a cursor returned by this API');
  }
  const result = payload.safeParse(parsed);
  if (!result.success) throw invalid('not a cursor returned by this API');
  if (result.data.q !== fingerprint) throw invalid('the cursor belongs to a different query');
  return result.data.after;
}
