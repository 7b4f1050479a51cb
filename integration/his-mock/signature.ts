/**
 * The receiver's side of the delivery signature (docs/adr/0016), written apart from the worker's
 * signing code (delivery/signature.ts) on purpose: it is what a hospital writes from the contract,
 * so a mistake on one side shows up as a refused delivery instead of cancelling out.
 *
 *   X-Booking-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type Verdict =
  { ok: true; timestamp: number } | { ok: false; reason: 'malformed' | 'mismatch' | 'stale' };

/** Checks the header against the raw body and the clock (`toleranceSeconds` either side). */
export function verifySignature(
  header: string | undefined,
  rawBody: Buffer,
  secret: string,
  nowSeconds: number,
  toleranceSeconds: number,
): Verdict {
  const parts = new Map(
    (header ?? '').split(',').map((p) => {
      const i = p.indexOf('=');
      return [p.slice(0, i).trim(), p.slice(i + 1).trim()] as const;
    }),
  );
  const t = parts.get('t');
  const v1 = parts.get('v1');
  if (!t || !/^\d{1,12}$/.test(t) || !v1 || !/^[0-9a-f]{64}$/.test(v1))
    return { ok: false, reason: 'malformed' };
  const expected = createHmac('sha256', secret).update(`${t}.`).update(rawBody).digest();
  if (!timingSafeEqual(expected, Buffer.from(v1, 'hex'))) return { ok: false, reason: 'mismatch' };
  // Checked after the MAC, so the timestamp compared is one the sender really signed.
  if (Math.abs(nowSeconds - Number(t)) > toleranceSeconds) return { ok: false, reason: 'stale' };
  return { ok: true, timestamp: Number(t) };
}
