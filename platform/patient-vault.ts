/**
 * The patient vault (docs/adr/0010): one random 256-bit data key per patient, kept in PostgreSQL
 * (`patient_keys`, write side only) wrapped under a key-encryption key (PATIENT_KEK). Events and
 * read models carry the patient's opaque reference (a random uuid) and their identity sealed with
 * that key; deleting the key (forget) makes every sealed copy unreadable and unlinks the
 * analysts' pseudonym, which derives from the key too. Crypto-shredding: nothing is rewritten.
 *
 * Unwrapped keys are cached briefly (TTL, default 30 s): another process stops reading a forgotten
 * patient within that bound; the process that forgets drops its own copy at once.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Queryable } from './pg.ts';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const SEALED_VERSION = 'v1';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface KeyRow {
  patient_ref: string;
  wrapped_key: Buffer;
}
/** The development key-encryption key: refused when NODE_ENV=production (platform/config.ts). */
export const DEV_PATIENT_KEK = Buffer.from('local-dev-only-patient-kek-00000').toString('base64');

/** 64 hex digits or base64 of exactly 32 bytes → the key; undefined for anything else. */
export function parseKek(value: string): Buffer | undefined {
  if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, 'hex');
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) return undefined;
  const bytes = Buffer.from(value, 'base64');
  return bytes.length === KEY_BYTES ? bytes : undefined;
}

const b64 = (b: Buffer): string => b.toString('base64url');

/** AES-256-GCM of `plaintext` under `key`, bound to `context` (AAD): `v1.<iv>.<ciphertext>.<tag>`. */
export function sealWith(key: Buffer, context: string, plaintext: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [SEALED_VERSION, b64(iv), b64(ct), b64(cipher.getAuthTag())].join('.');
}

export class SealedValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SealedValueError';
  }
}

/** The plaintext; throws SealedValueError when the value is malformed or fails authentication. */
export function openWith(key: Buffer, context: string, sealed: string): string {
  const [version, iv, ct, tag, ...rest] = sealed.split('.');
  if (
    version !== SEALED_VERSION ||
    iv === undefined ||
    ct === undefined ||
    tag === undefined ||
    rest.length
  ) {
    throw new SealedValueError('not a sealed value');
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
  } catch (cause) {
    throw new SealedValueError(`sealed value failed authentication: ${(cause as Error).message}`);
  }
}

/** The data key wrapped under the KEK, bound to its reference: iv | tag | ciphertext. */
export function wrapKey(kek: Buffer, patientRef: string, dataKey: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', kek, iv);
  cipher.setAAD(Buffer.from(patientRef));
  const ct = Buffer.concat([cipher.update(dataKey), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ct]);
}

export function unwrapKey(kek: Buffer, patientRef: string, wrapped: Buffer): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', kek, wrapped.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(patientRef));
  decipher.setAuthTag(wrapped.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  return Buffer.concat([decipher.update(wrapped.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
}

/** The analysts' pseudonym of a patient: HMAC-SHA256(data key, 'analytics-pseudonym'), hex. */
export const pseudonymOf = (dataKey: Buffer): string =>
  createHmac('sha256', dataKey).update('analytics-pseudonym').digest('hex');

/** The sealed identity of a patient as events and read models carry it. */
interface SealedIdentity {
  patientId: string;
}

export interface ForgottenPatient {
  patientRef: string;
  pseudonym: string;
}

export interface PatientVaultOptions {
  /**
   * How long an unwrapped key (and a patient's reference) is cached. Default 30 s; 0 caches
   * nothing (the query API: a forgotten patient is refused from the next request on).
   */
  ttlMs?: number;
  max?: number;
}

export class PatientVault {
  readonly #db: Queryable;
  readonly #kek: Buffer;
  readonly #keys: LRUCache<string, Buffer>;
  readonly #refs: LRUCache<string, string>;

  constructor(db: Queryable, kek: Buffer, opts: PatientVaultOptions = {}) {
    if (kek.length !== KEY_BYTES) throw new Error('PATIENT_KEK must be 32 bytes');
    this.#db = db;
    this.#kek = kek;
    const ttl = opts.ttlMs ?? 30_000;
    // lru-cache reads ttl 0 as "forever": no caching at all is a cache of size 1 with 1 ms.
    const max = ttl > 0 ? (opts.max ?? 50_000) : 1;
    this.#keys = new LRUCache({ max, ttl: Math.max(ttl, 1) });
    this.#refs = new LRUCache({ max, ttl: Math.max(ttl, 1) });
  }

  /** The patient's reference; with `create`, a new key and reference on their first use. */
  async refFor(patientId: string, opts: { create: boolean }): Promise<string | undefined> {
    const cached = this.#refs.get(patientId);
    if (cached !== undefined) return cached;
    const created = opts.create ? await this.#selectOrInsert(patientId) : undefined;
    // Nothing created or found: a concurrent first booking of the same patient won; read theirs.
    const row = created ? (created.row ?? (await this.#select(patientId))) : await this.#select(patientId);
    if (!row) return undefined;
    this.#refs.set(patientId, row.patient_ref);
    // A key this call created is already in hand: unwrapping what was just wrapped is wasted work.
    const dataKey =
      created?.dataKey && row.patient_ref === created.ref
        ? created.dataKey
        : unwrapKey(this.#kek, row.patient_ref, row.wrapped_key);
    this.#keys.set(row.patient_ref, dataKey);
    return row.patient_ref;
  }

  /**
   * One statement for a booking: the patient's existing key, or a new one. The insert commits
   * asynchronously (no WAL flush wait, so a first booking costs one durable commit, not two), and
   * safely so, as the idempotency claim (ADR 0007): a booking that uses the key commits after it,
   * durably, and that flush makes the earlier key row durable too (WAL is flushed in order). A
   * crash can only lose a key no committed event refers to.
   */
  async #selectOrInsert(
    patientId: string,
  ): Promise<{ row: KeyRow | undefined; ref: string; dataKey: Buffer }> {
    const ref = randomUUID();
    const dataKey = randomBytes(KEY_BYTES);
    const { rows } = await this.#db.query<KeyRow>({
      name: 'patient_keys_select_or_insert',
      text: `WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true)),
                  created AS (
                    INSERT INTO patient_keys (patient_ref, patient_id, wrapped_key)
                    SELECT $1, $2, $3 FROM async_commit
                    ON CONFLICT (patient_id) DO NOTHING RETURNING patient_ref, wrapped_key)
             SELECT patient_ref, wrapped_key FROM created
             UNION ALL
             SELECT patient_ref, wrapped_key FROM patient_keys
              WHERE patient_id = $2 AND NOT EXISTS (SELECT 1 FROM created)`,
      values: [ref, patientId, wrapKey(this.#kek, ref, dataKey)],
    });
    return { row: rows[0], ref, dataKey };
  }

  /** The reference and the sealed `{ patientId }` a booking records (creating the key if needed). */
  async resolve(patientId: string): Promise<{ patientRef: string; patient: string }> {
    const patientRef = (await this.refFor(patientId, { create: true }))!;
    return { patientRef, patient: await this.seal(patientRef, JSON.stringify({ patientId })) };
  }

  async seal(patientRef: string, plaintext: string): Promise<string> {
    const key = await this.#key(patientRef);
    if (!key) throw new Error(`no data key for patient ${patientRef} (forgotten)`);
    return sealWith(key, patientRef, plaintext);
  }

  /** The plaintext; undefined when the key is gone (the patient was forgotten). Tampering throws. */
  async open(patientRef: string, sealed: string): Promise<string | undefined> {
    const key = await this.#key(patientRef);
    return key && openWith(key, patientRef, sealed);
  }

  /** The patient id a sealed identity holds; undefined once forgotten. */
  async patientIdOf(patientRef: string, sealed: string): Promise<string | undefined> {
    const plain = await this.open(patientRef, sealed);
    if (plain === undefined) return undefined;
    const parsed = JSON.parse(plain) as Partial<SealedIdentity>;
    return typeof parsed.patientId === 'string' ? parsed.patientId : undefined;
  }

  /** The analysts' pseudonym; undefined once forgotten (nothing links any more). */
  async pseudonym(patientRef: string): Promise<string | undefined> {
    const key = await this.#key(patientRef);
    return key && pseudonymOf(key);
  }

  /**
   * Deletes the patient's key (inside the caller's transaction when `db` is given) and returns the
   * reference and the pseudonym it had; undefined when there was none (unknown or already forgotten).
   */
  async forget(patientId: string, db: Queryable = this.#db): Promise<ForgottenPatient | undefined> {
    const { rows } = await db.query<{ patient_ref: string; wrapped_key: Buffer }>({
      name: 'patient_keys_forget',
      text: 'DELETE FROM patient_keys WHERE patient_id = $1 RETURNING patient_ref, wrapped_key',
      values: [patientId],
    });
    const row = rows[0];
    if (!row) return undefined;
    this.#refs.delete(patientId);
    this.#keys.delete(row.patient_ref);
    const key = unwrapKey(this.#kek, row.patient_ref, row.wrapped_key);
    return { patientRef: row.patient_ref, pseudonym: pseudonymOf(key) };
  }

  /**
   * The pseudonyms of many patients in one query (cached keys first); a reference whose key is gone
   * (forgotten) or unknown is absent from the result.
   */
  async pseudonyms(patientRefs: Iterable<string>): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const missing: string[] = [];
    for (const ref of new Set(patientRefs)) {
      const key = this.#keys.get(ref);
      if (key) out.set(ref, pseudonymOf(key));
      else if (UUID.test(ref)) missing.push(ref);
    }
    if (missing.length === 0) return out;
    const { rows } = await this.#db.query<{ patient_ref: string; wrapped_key: Buffer }>({
      name: 'patient_keys_by_refs',
      text: 'SELECT patient_ref, wrapped_key FROM patient_keys WHERE patient_ref = ANY($1::uuid[])',
      values: [missing],
    });
    for (const row of rows) {
      const key = unwrapKey(this.#kek, row.patient_ref, row.wrapped_key);
      this.#keys.set(row.patient_ref, key);
      out.set(row.patient_ref, pseudonymOf(key));
    }
    return out;
  }

  /** Drops a cached key at once (a projector that read PatientForgotten). */
  invalidate(patientRef: string): void {
    this.#keys.delete(patientRef);
  }

  /** A keyed digest of a patient id for names that must not carry it (rate-limit keys). */
  digest(patientId: string): string {
    return createHmac('sha256', this.#kek).update(`name:${patientId}`).digest('base64url');
  }

  async #select(patientId: string): Promise<KeyRow | undefined> {
    const { rows } = await this.#db.query<KeyRow>({
      name: 'patient_keys_by_id',
      text: 'SELECT patient_ref, wrapped_key FROM patient_keys WHERE patient_id = $1',
      values: [patientId],
    });
    return rows[0];
  }

  async #key(patientRef: string): Promise<Buffer | undefined> {
    const cached = this.#keys.get(patientRef);
    if (cached) return cached;
    if (!UUID.test(patientRef)) return undefined;
    const { rows } = await this.#db.query<{ wrapped_key: Buffer }>({
      name: 'patient_keys_by_ref',
      text: 'SELECT wrapped_key FROM patient_keys WHERE patient_ref = $1',
      values: [patientRef],
    });
    const row = rows[0];
    if (!row) return undefined;
    const key = unwrapKey(this.#kek, patientRef, row.wrapped_key);
    this.#keys.set(patientRef, key);
    return key;
  }
}

/** What the projectors need of the vault. */
export type ProjectorPatients = Pick<PatientVault, 'resolve' | 'pseudonyms' | 'invalidate'>;

/** The vault of a process: its pool and the configured KEK. */
export function patientVault(db: Queryable, config: { PATIENT_KEK: string }, opts?: PatientVaultOptions) {
  const kek = parseKek(config.PATIENT_KEK);
  if (!kek) throw new Error('PATIENT_KEK must be 32 bytes, hex or base64');
  return new PatientVault(db, kek, opts);
}
