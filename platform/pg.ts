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

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * True when an error means "PostgreSQL is unreachable or refusing work right now" (connection
 * failures, pool checkout timeouts, server shutting down, too many connections, statement
 * timeout) — a 503 for the client, not a bug.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const state = sqlState(err);
  if (state !== undefined) {
    if (UNAVAILABLE_CODES.has(state)) return true;
    // 08: connection exception, 57P0x: admin/crash shutdown, cannot connect now; 53300: too many
    // connections; 57014: statement timeout / cancelled.
    return state.startsWith('08') || /^57P0[1-3]$/.test(state) || state === '53300' || state === '57014';
  }
  const message = err instanceof Error ? err.message : '';
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
    message,
  );
}
