/**
 * The signature every delivery carries (docs/adr/0016): HMAC-SHA256 with the institution's secret
 * over "<unix seconds>.<exact body bytes>", sent as `X-Booking-Signature: t=<seconds>,v1=<hex>`.
 * The timestamp is signed, so a receiver that refuses timestamps outside its window (±300 s in
 * the reference receiver) refuses a captured delivery replayed later.
 */
import { createHmac } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-booking-signature';

export function signatureHeader(secret: string, body: string, nowSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${nowSeconds}.${body}`).digest('hex');
  return `t=${nowSeconds},v1=${mac}`;
}
