import pg from 'pg';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** Anything that can run a query: the pool itself or a client checked out for a transaction. */
export type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

export interface PoolOptions {
  applicationName?: string;
  /** Server-side cap on any single statement, so a stuck query cannot hold a connection forever. */
  statementTimeoutMs?: number;
  /**
   * Server-side cap on a transaction left idle (a crashed request, a forgotten COMMIT): an open
   * transaction with an xid holds back the relay and every projection (docs/adr/0002). Default 10 s.
   */
  idleInTransactionTimeoutMs?: number;
  connectionTimeoutMs?: number;
  idleTimeoutMs?: number;
  logger?: Logger;
}

/** A pool sized by PG_POOL_MAX. Idle-client errors are logged instead of crashing the process. */
export function createPool(
  config: Pick<Config, 'DATABASE_URL' | 'PG_POOL_MAX'>,
  opts: PoolOptions = {},
): Pool {
  const pool = new pg.Pool({
    connectionString: config.DATABASE_URL,
    max: config.PG_POOL_MAX,
    application_name: opts.applicationName ?? 'booking-platform',
    statement_timeout: opts.statementTimeoutMs ?? 30_000,
    idle_in_transaction_session_timeout: opts.idleInTransactionTimeoutMs ?? 10_000,
    connectionTimeoutMillis: opts.connectionTimeoutMs ?? 5_000,
    idleTimeoutMillis: opts.idleTimeoutMs ?? 30_000,
  });
  pool.on('error', (err) => opts.logger?.warn({ err }, 'idle PostgreSQL client error'));
  return pool;
}

export type IsolationLevel = 'read committed' | 'repeatable read' | 'serializable';

/**
 * Runs `fn` inside BEGIN … COMMIT on one pooled client; rolls back on any error and rethrows it.
 * A client whose rollback fails is destroyed rather than returned to the pool.
 */
export async function withTransaction<T>(
  pool: Pool,
  fn: (client: PoolClient) => Promise<T>,
  opts: { isolation?: IsolationLevel } = {},
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // A checked-out client that loses its connection between two statements (a PostgreSQL restart,
  // pg_terminate_backend) emits 'error'; the pool only listens on idle clients, and an unheard
  // 'error' event ends the process. Keep it: the next statement fails, and the client is destroyed.
  const onError = (err: Error) => (broken = err);
  client.on('error', onError);
  try {
    await client.query(opts.isolation ? `BEGIN ISOLATION LEVEL ${opts.isolation.toUpperCase()}` : 'BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackError) {
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    }
    throw err;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}

/** PostgreSQL SQLSTATE of a driver error, if any. */
export const sqlState = (err: unknown): string | undefined =>
  typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;

/** The constraint a unique/foreign-key violation names, if any. */
export const violatedConstraint = (err: unknown): string | undefined =>
  typeof err === 'object' && err !== null && 'constraint' in err && typeof err.constraint === 'string'
    ? err.constraint
    : undefined;

/** Socket-level failures (Node errno codes, carried in the same `code` field as SQLSTATEs). */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  // Refused by the pool's own breaker or bulkhead (platform/flow/pg-guard.ts) without a round trip.
  'EDEPENDENCYOPEN',
]);

/**
 * How a PostgreSQL (driver) error is to be handled, the one classification every caller uses
 * (the command API's 503s, the projectors' retry-or-dead-letter):
 *  - `unavailable`: PostgreSQL is unreachable or refusing work right now — connection failures,
 *    pool checkout timeouts, shutdown (57P0x), insufficient resources (53xxx, e.g. too many
 *    connections), and statement timeouts (57014: a slow read is the server's state, not the
 *    request's or the event's fault, so it must never dead-letter a healthy event);
 *  - `conflict`: serialization failure or deadlock (40001, 40P01), which a retry resolves;
 *  - `other`: anything else (constraint violations, syntax errors, bad data…).
 */
export type PgErrorKind = 'unavailable' | 'conflict' | 'other';

export function pgErrorKind(err: unknown): PgErrorKind {
  const state = sqlState(err);
  if (state !== undefined) {
    if (NETWORK_CODES.has(state)) return 'unavailable';
    // 08: connection exception; 53: insufficient resources; 57P0x: admin/crash shutdown, cannot
    // connect now…; 57014: statement timeout / query cancelled.
    if (/^(08|53|57P0)/.test(state) || state === '57014') return 'unavailable';
    if (state === '40001' || state === '40P01') return 'conflict';
    return 'other';
  }
  const message = err instanceof Error ? err.message : '';
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
    message,
  )
    ? 'unavailable'
    : 'other';
}

/** True when PostgreSQL is unreachable or refusing work right now: a 503 for the client, not a bug. */
export const isDatabaseUnavailable = (err: unknown): boolean => pgErrorKind(err) === 'unavailable';

/** True when retrying the same work later can succeed (unavailable or a serialization conflict). */
export const isTransientDatabaseError = (err: unknown): boolean => pgErrorKind(err) !== 'other';
