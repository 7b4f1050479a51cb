import { isTransientDatabaseError } from '../../platform/pg.ts';
import { SearchUnavailableError } from '../../platform/search/index.ts';

/** Thrown (or wrapped as `cause`) by a handler when the failure is the store's, not the message's. */
export class TransientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransientError';
  }
}

/** Thrown by a handler when a message can never be applied (bad payload, unknown schema…). */
export class PoisonError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PoisonError';
  }
}

/** The batch was interrupted by a rebalance or a shutdown: neither retried nor dead-lettered. */
export class BatchInterrupted extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BatchInterrupted';
  }
}

const TRANSIENT_NAMES = new Set([
  'TransientError',
  'SearchUnavailableError',
  'MaxRetriesPerRequestError',
  'ConnectionError',
  'TimeoutError',
  'NoLivingConnectionsError',
  'KafkaJSConnectionError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSBrokerNotFound',
]);

/**
 * The default split between "retry until it works" and "retry a few times, then dead-letter":
 * connection failures, timeouts and unavailable stores are transient; everything else is
 * presumed to be the message's fault. Follows the `cause` chain.
 */
export function isTransientError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    if (e instanceof PoisonError) return false;
    if (e instanceof TransientError || e instanceof SearchUnavailableError) return true;
    if (typeof e !== 'object') return false;
    const { name, message } = e as { name?: unknown; message?: unknown };
    if (typeof name === 'string' && TRANSIENT_NAMES.has(name)) return true;
    // Socket errno codes and PostgreSQL SQLSTATEs: one classifier with the command API's.
    if (isTransientDatabaseError(e)) return true;
    if (typeof message === 'string' && /Connection is closed|Stream isn't writeable/.test(message))
      return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

export const describeError = (err: unknown): string =>
  err instanceof Error ? `${err.name}: ${err.message}` : String(err);
