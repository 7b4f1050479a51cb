/**
 * One delivery attempt over HTTP: the body the receiver contract names (docs/hospital-delivery.md),
 * signed, with the sequence number, the idempotency key and the booking's trace context.
 */
import { context, propagation } from '@opentelemetry/api';
import { parseRetryAfter } from './backoff.ts';
import { SIGNATURE_HEADER, signatureHeader } from './signature.ts';

export interface DeliveryBody {
  institutionId: string;
  seq: number;
  idempotencyKey: string;
  eventId: string;
  type: string;
  occurredAt: string;
  data: Record<string, unknown>;
}

export const idempotencyKeyOf = (institutionId: string, seq: number): string => `${institutionId}:${seq}`;

/** The receiver answered, and not with success: `retryable` for 408, 429 and 5xx. */
export class ReceiverRefused extends Error {
  constructor(
    readonly status: number,
    readonly retryAfterMs: number | undefined,
    readonly retryable: boolean,
    detail: string,
  ) {
    super(`HTTP ${status}${detail ? `: ${detail}` : ''}`);
    this.name = 'ReceiverRefused';
  }
}

const isRetryableStatus = (status: number): boolean => status === 408 || status === 429 || status >= 500;

/**
 * POSTs the delivery; resolves on 2xx, throws ReceiverRefused otherwise (a network error or the
 * abort of `signal` throws as fetch throws). The traceparent is the active span's when tracing
 * runs, else the booking's own (`fallbackTraceparent`).
 */
export async function postDelivery(opts: {
  url: string;
  secret: string;
  body: DeliveryBody;
  signal: AbortSignal;
  fallbackTraceparent: string | undefined;
  nowMs?: number;
}): Promise<void> {
  const nowMs = opts.nowMs ?? Date.now();
  const text = JSON.stringify(opts.body);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    [SIGNATURE_HEADER]: signatureHeader(opts.secret, text, Math.floor(nowMs / 1000)),
    'x-booking-institution': opts.body.institutionId,
    'x-booking-sequence': String(opts.body.seq),
    'idempotency-key': opts.body.idempotencyKey,
  };
  propagation.inject(context.active(), headers);
  if (!headers.traceparent && opts.fallbackTraceparent) headers.traceparent = opts.fallbackTraceparent;
  const res = await fetch(opts.url, { method: 'POST', headers, body: text, signal: opts.signal });
  const answer = (await res.text()).slice(0, 200);
  if (res.ok) return;
  throw new ReceiverRefused(
    res.status,
    parseRetryAfter(res.headers.get('retry-after'), Date.now()),
    isRetryableStatus(res.status),
    answer,
  );
}
