/**
 * The PostgreSQL pool behind a DependencyGuard (outbound.ts), without changing its callers:
 *  - `pool.query(…)`: one guarded call (bulkhead slot for its duration, both breakers);
 *  - `pool.connect()`: refused at once while a breaker is open; the checked-out client holds a
 *    bulkhead slot until it is released, and each of its statements is judged by the breakers
 *    (error and slow-call ratio), so a transaction's statements count as calls.
 * The timeout is PostgreSQL's own (statement_timeout, and the pool's connection timeout): a
 * client-side timeout would abandon a statement still running inside a transaction.
 * A refusal throws DependencyUnavailableError (code EDEPENDENCYOPEN), which pgErrorKind classes as
 * `unavailable`, so the command API answers it as it answers an unreachable database: 503
 * dependency_unavailable with Retry-After, fast.
 */
import { isDatabaseUnavailable, type Pool, type PoolClient } from '../pg.ts';
import type { DependencyGuard, DependencyGuardOptions } from './outbound.ts';

export const PG_GUARD_DEFAULTS: Omit<DependencyGuardOptions, 'concurrency'> = {
  timeoutMs: 0,
  // Generous: queued checkouts beyond this are refused rather than left to time out after 5 s.
  queue: 2000,
  errorRatio: 0.5,
  slowCallRatio: 0.8,
  slowCallMs: 1000,
  windowMs: 10_000,
  minimumRps: 5,
  halfOpenAfterMs: 2000,
  isFailure: isDatabaseUnavailable,
};

type Query = PoolClient['query'];

export function guardPool(pool: Pool, guard: DependencyGuard): Pool {
  const query = ((...args: Parameters<Query>) =>
    guard.execute(() => (pool.query as (...a: unknown[]) => Promise<unknown>)(...args))) as unknown as Query;
  const connect = async (): Promise<PoolClient> => {
    const release = await guard.hold();
    let client: PoolClient;
    try {
      client = await guard.record(() => pool.connect());
    } catch (err) {
      release();
      throw err;
    }
    // Called back with .apply/.call on the client itself.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    const ownQuery = client.query;
    // eslint-disable-next-line @typescript-eslint/unbound-method
    const ownRelease = client.release;
    client.query = ((...args: unknown[]) =>
      guard.record(() => (ownQuery as (...a: unknown[]) => Promise<unknown>).apply(client, args))) as Query;
    // The pool reuses the client: it goes back unwrapped.
    client.release = (err?: Error | boolean) => {
      client.query = ownQuery;
      client.release = ownRelease;
      release();
      ownRelease.call(client, err);
    };
    return client;
  };
  return new Proxy(pool, {
    get(target, prop, receiver) {
      if (prop === 'query') return query;
      if (prop === 'connect') return connect;
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
