/**
 * The delivery worker's own settings (docs/adr/0016), beside the platform's (platform/config.ts).
 * Per-institution settings (URL, rate, concurrency, timeout) are not here: they live in
 * `institution_endpoints` and change without a restart.
 */
import { z } from 'zod';
import { loadEnv, parseEnv, type EnvResult } from '../platform/config.ts';

const ms = (fallback: number, min = 0) => z.coerce.number().int().min(min).default(fallback);
const flag = z
  .enum(['true', 'false', '1', '0'])
  .default('true')
  .transform((v) => v === 'true' || v === '1');

export const deliverySettingsSchema = z.object({
  DELIVERY_PORT: z.coerce.number().int().min(0).max(65535).default(3007),
  DELIVERY_EVENTS_TOPIC: z.string().min(1).default('booking.events'),
  DELIVERY_GROUP: z.string().min(1).default('hospital-delivery'),
  /**
   * Where a record the worker cannot read goes (with DLQ_HEADERS, `dlq-projector: delivery`).
   * Unset: `<DELIVERY_EVENTS_TOPIC>.delivery.dlq` (see deliveryDlqTopic), named like the
   * projectors' `booking.events.dlq` and in the events topic's namespace (a test's own topic).
   */
  DELIVERY_DLQ_TOPIC: z.string().min(1).optional(),
  /** A new consumer group starts at the topic's beginning (nothing published before it joined is lost). */
  DELIVERY_FROM_BEGINNING: flag,
  /** How often institution_endpoints and the secrets are re-read: at most 2 s (the bound). */
  DELIVERY_CONFIG_POLL_MS: ms(1_000, 50).pipe(z.number().max(2_000)),
  /** An idle institution's queue is looked at this often (new rows also wake it at once in-process). */
  DELIVERY_POLL_MS: ms(250, 10),
  /** A delivery failing for this long since its first attempt is parked (its institution's queue stops). */
  DELIVERY_PARK_AFTER_MS: ms(3_600_000, 1),
  DELIVERY_RETRY_BASE_MS: ms(500, 1),
  DELIVERY_RETRY_MAX_MS: ms(60_000, 1),
  /** A worker sends an institution's deliveries only while it holds its lease (several workers, or a restart). */
  DELIVERY_LEASE_MS: ms(10_000, 500),
  /** Breaker per institution: open at this failure share over the window… */
  DELIVERY_BREAKER_ERROR_RATIO: z.coerce.number().min(0.01).max(0.99).default(0.5),
  DELIVERY_BREAKER_WINDOW_MS: ms(10_000, 100),
  /** …with at least this many calls per second in it; one probe after halfOpen. */
  DELIVERY_BREAKER_MIN_RPS: z.coerce.number().min(0).default(0.5),
  DELIVERY_BREAKER_HALF_OPEN_MS: ms(5_000, 10),
});

export type DeliverySettings = z.infer<typeof deliverySettingsSchema>;

export const deliveryDlqTopic = (s: Pick<DeliverySettings, 'DELIVERY_EVENTS_TOPIC' | 'DELIVERY_DLQ_TOPIC'>) =>
  s.DELIVERY_DLQ_TOPIC ?? `${s.DELIVERY_EVENTS_TOPIC}.delivery.dlq`;

export const parseDeliverySettings = (env: Record<string, string | undefined>): EnvResult<DeliverySettings> =>
  parseEnv(deliverySettingsSchema, env);

export const loadDeliverySettings = (
  env: Record<string, string | undefined> = process.env,
): DeliverySettings => loadEnv(deliverySettingsSchema, env);
