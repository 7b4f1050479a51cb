/**
 * Idempotency-Key (IETF httpapi draft, Stripe semantics), backed by PostgreSQL
 * (infra/migrations/002_idempotency_keys.sql). The design, and why: docs/adr/0007-idempotency-keys.md.
 *
 * 1. `claim` inserts the key as `in_flight` with the request's hash and a fresh lease token (the
 *    owner), scoped per principal. On conflict: a different request hash → 422; still in flight →
 *    409, unless the lease (seconds) lapsed, i.e. its owner died: then it is taken over with a new
 *    token; completed → the stored outcome is replayed; expired → purged and claimed afresh.
 * 2. The command stores its outcome with `complete(tx, …)` inside the SAME transaction that
 *    appends its events, guarded by the lease token. Committed: events and response exist
 *    together, so a retry after a crash replays the response. Not committed: neither exists.
 * 3. A command that fails without an outcome (unexpected error, exhausted retries) `release`s the
 *    claim so the client can retry at once.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Request } from 'express';
import type { Pool, Queryable } from '../pg.ts';
import { AppError, type ErrorCode, type InvalidParam } from './errors.ts';

export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';
export const REPLAYED_HEADER = 'Idempotent-Replayed';

/** What a retry gets back: a stored HTTP response, or a stored problem rendered again by the problem middleware. */
export type StoredOutcome =
  | { kind: 'response'; status: number; headers: Record<string, string>; body: string }
  | { kind: 'problem'; code: ErrorCode; detail?: string; invalidParams?: InvalidParam[] };

export type Claim =
  { kind: 'claimed'; token: string; takenOver: boolean } | { kind: 'completed'; outcome: StoredOutcome };

const BARE_KEY = /^[\x21-\x7e]{1,255}$/;
const SF_STRING = /^"((?:[\x20-\x21\x23-\x5b\x5d-\x7e]|\\["\\]){1,255})"$/;

/** Reads the Idempotency-Key header: a structured-field string (`"…"`) or a bare token. 400 when missing or invalid. */
export function parseIdempotencyKey(req: Request): string {
  const raw = req.header(IDEMPOTENCY_KEY_HEADER);
  if (raw === undefined || raw.trim() === '') {
    throw new AppError(
      'idempotency_key_missing',
      'Send an Idempotency-Key header (e.g. a UUID) with every POST',
    );
  }
  const value = raw.trim();
  const quoted = SF_STRING.exec(value);
  if (quoted?.[1]) return quoted[1].replace(/\\(["\\])/g, '$1');
  if (BARE_KEY.test(value) && !value.includes('"')) return value;
  throw new AppError('idempotency_key_invalid', 'Idempotency-Key must be 1-255 printable ASCII characters');
}

/** JSON with object keys sorted at every level, so equal payloads hash equally. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** sha256 over method, path and canonical body: "the same request". */
export function requestFingerprint(method: string, path: string, body: unknown): string {
  return createHash('sha256')
    .update(`${method.toUpperCase()}\n${path}\n${canonicalJson(body ?? null)}`)
    .digest('hex');
}

/**
 * A claim's lease: its owner renews it every second while the command runs (`keep`), so it
 * lapses only when the owner is gone — crashed, killed, cut off — and a retry takes it over
 * within this many seconds (issue 13: ≤ 5 s with the client's Retry-After of 1 s).
 */
export const DEFAULT_LEASE_SECONDS = 4;

const inFlight = (detail: string): AppError =>
  new AppError('idempotency_key_in_flight', detail, { headers: { 'Retry-After': '1' } });

export interface IdempotencyStoreOptions {
  /** How long a key is kept (≥ 24 h). */
  ttlHours: number;
  /**
   * An in-flight claim not renewed for this long is presumed abandoned (its process died) and may
   * be taken over. Its owner renews it every second however long the command takes (queued
   * behind a booking rush), so this only bounds how long a retry waits after a crash. Default 4.
   */
  leaseSeconds?: number;
}

interface KeyRow {
  request_hash: string;
  status: 'in_flight' | 'completed';
  lease_token: string;
  response: StoredOutcome | null;
  expired: boolean;
  stale: boolean;
}

export class PgIdempotencyStore {
  readonly #pool: Pool;
  readonly #ttlHours: number;
  readonly #leaseSeconds: number;
  /** Claims this process owns and renews: lease token → key. */
  readonly #held = new Map<string, { principal: string; key: string }>();
  #renewTimer: NodeJS.Timeout | undefined;
  /** Every second, or three times per lease when the lease is shorter (tests). */
  readonly #renewEveryMs: number;

  constructor(pool: Pool, opts: IdempotencyStoreOptions) {
    this.#pool = pool;
    this.#ttlHours = opts.ttlHours;
    this.#leaseSeconds = opts.leaseSeconds ?? DEFAULT_LEASE_SECONDS;
    this.#renewEveryMs = Math.min(1_000, (this.#leaseSeconds * 1_000) / 3);
  }

  /**
   * Keeps a claim this process owns alive until the returned function is called: every second,
   * one statement renews every held claim of the process (not one per request, so a rush of
   * queued commands costs one UPDATE a second). A renewal that fails (database away) is simply
   * missed; the claim may then lapse, and the owner's completion fails its token check — a
   * takeover can cost a retry, never a double effect.
   */
  keep(principal: string, key: string, token: string): () => void {
    this.#held.set(token, { principal, key });
    this.#renewTimer ??= setInterval(() => void this.#renew(), this.#renewEveryMs).unref();
    return () => {
      this.#held.delete(token);
      if (this.#held.size === 0 && this.#renewTimer) {
        clearInterval(this.#renewTimer);
        this.#renewTimer = undefined;
      }
    };
  }

  async #renew(): Promise<void> {
    if (this.#held.size === 0) return;
    const tokens = [...this.#held.keys()];
    const keys = tokens.map((t) => this.#held.get(t)!);
    await this.#pool
      .query({
        name: 'idem_renew',
        text: `UPDATE idempotency_keys k SET leased_at = now()
                 FROM unnest($1::text[], $2::text[], $3::uuid[]) AS h(principal, idem_key, lease_token)
                WHERE k.principal = h.principal AND k.idem_key = h.idem_key
                  AND k.lease_token = h.lease_token AND k.status = 'in_flight'`,
        values: [keys.map((k) => k.principal), keys.map((k) => k.key), tokens],
      })
      .catch(() => undefined);
  }

  async claim(principal: string, key: string, requestHash: string): Promise<Claim> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const token = randomUUID();
      if (await this.#insert(principal, key, requestHash, token)) {
        return { kind: 'claimed', token, takenOver: false };
      }
      const row = await this.#read(principal, key);
      if (!row) continue; // purged in between: claim again
      if (row.expired) {
        await this.#purge(principal, key); // purge-on-read: an expired key is as good as absent
        continue;
      }
      if (row.request_hash !== requestHash) {
        throw new AppError(
          'idempotency_key_reused',
          'This Idempotency-Key was already used with a different request; use a new key',
        );
      }
      if (row.status === 'completed' && row.response) return { kind: 'completed', outcome: row.response };
      if (!row.stale) throw inFlight('The first request with this key is still being processed');
      // The owner's lease lapsed (it died before committing): take the claim over.
      if (await this.#takeOver(principal, key, row.lease_token, token)) {
        return { kind: 'claimed', token, takenOver: true };
      }
    }
    throw inFlight('The first request with this key is still being processed');
  }

  /**
   * The claim commits asynchronously (synchronous_commit = off for this one implicit transaction,
   * via set_config(…, true)): it does not wait for its WAL flush, which saves one durable commit
   * per command. Losing it in a PostgreSQL crash is harmless:
   * - nothing the client can observe depends on it being durable: a booking and its stored
   *   response only exist through the command transaction, which commits durably — and WAL is
   *   flushed in order, so that flush also makes this earlier claim durable;
   * - if the crash loses the claim, no command transaction can have committed after it, so the
   *   key is simply unused again and the client's retry claims it afresh (exactly as after a
   *   failure before commit);
   * - a concurrent request that saw the lost claim got a 409 in-flight answer and retries.
   * PostgreSQL never reorders an asynchronous commit after a later synchronous one, so this
   * weakens nothing about the idempotency record or the events.
   */
  async #insert(principal: string, key: string, requestHash: string, token: string): Promise<boolean> {
    const inserted = await this.#pool.query({
      name: 'idem_claim',
      text: `INSERT INTO idempotency_keys (principal, idem_key, request_hash, status, lease_token, expires_at)
       SELECT $1, $2, $3, 'in_flight', $4, now() + make_interval(hours => $5)
       FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
       ON CONFLICT (principal, idem_key) DO NOTHING`,
      values: [principal, key, requestHash, token, this.#ttlHours],
    });
    return inserted.rowCount === 1;
  }

  async #read(principal: string, key: string): Promise<KeyRow | undefined> {
    const { rows } = await this.#pool.query<KeyRow>(
      `SELECT request_hash, status, lease_token, response,
              expires_at <= now() AS expired,
              leased_at < now() - make_interval(secs => $3) AS stale
       FROM idempotency_keys WHERE principal = $1 AND idem_key = $2`,
      [principal, key, this.#leaseSeconds],
    );
    return rows[0];
  }

  async #purge(principal: string, key: string): Promise<void> {
    await this.#pool.query(
      'DELETE FROM idempotency_keys WHERE principal = $1 AND idem_key = $2 AND expires_at <= now()',
      [principal, key],
    );
  }

  /** Compare-and-set on the lease token: of two requests taking over the same claim, one wins. */
  async #takeOver(principal: string, key: string, from: string, to: string): Promise<boolean> {
    const updated = await this.#pool.query(
      `UPDATE idempotency_keys SET lease_token = $4, leased_at = now()
       WHERE principal = $1 AND idem_key = $2 AND status = 'in_flight' AND lease_token = $3`,
      [principal, key, from, to],
    );
    return updated.rowCount === 1;
  }

  /**
   * Stores the outcome; call inside the transaction that commits the command's effects, as its
   * last statement (the key's row stays locked only until COMMIT). Throws, so that transaction
   * rolls back, when the claim was taken over in the meantime (its lease lapsed).
   */
  async complete(
    db: Queryable,
    principal: string,
    key: string,
    token: string,
    outcome: StoredOutcome,
  ): Promise<void> {
    const updated = await db.query({
      name: 'idem_complete',
      text: `UPDATE idempotency_keys SET status = 'completed', response = $4, completed_at = now()
       WHERE principal = $1 AND idem_key = $2 AND lease_token = $3 AND status = 'in_flight'`,
      values: [principal, key, token, JSON.stringify(outcome)],
    });
    if (updated.rowCount !== 1) throw inFlight('Another request took over this Idempotency-Key');
  }

  /** `complete` as a statement of its own, for an outcome that is the command's only write. */
  async completeAlone(principal: string, key: string, token: string, outcome: StoredOutcome): Promise<void> {
    await this.complete(this.#pool, principal, key, token, outcome);
  }

  /** Gives up a claim that produced no outcome, so the key can be retried immediately. */
  async release(principal: string, key: string, token: string): Promise<void> {
    await this.#pool.query(
      `DELETE FROM idempotency_keys
       WHERE principal = $1 AND idem_key = $2 AND lease_token = $3 AND status = 'in_flight'`,
      [principal, key, token],
    );
  }

  /** Deletes expired keys in batches; returns how many were deleted. */
  async purgeExpired(batchSize = 5_000): Promise<number> {
    let total = 0;
    for (;;) {
      const deleted = await this.#pool.query(
        `DELETE FROM idempotency_keys WHERE ctid IN (
           SELECT ctid FROM idempotency_keys WHERE expires_at <= now() LIMIT $1)`,
        [batchSize],
      );
      total += deleted.rowCount ?? 0;
      if ((deleted.rowCount ?? 0) < batchSize) return total;
    }
  }
}
