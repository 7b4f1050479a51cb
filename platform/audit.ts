/**
 * The audit trail (infra/migrations/007_audit_log.sql): who did what to which subject, when, under
 * which trace. Written in the same transaction as the change it records where there is one (a
 * command), or before the answer is sent (a read of patient data), so an access that happened is
 * never missing from it. Read back by admins with keyset pagination, newest first.
 *
 * Entries name patients by their patient_ref, never by their id: the trail itself must not become
 * a copy of patient identity that `forget` cannot reach.
 */
import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { currentContext } from './context.ts';
import type { Queryable } from './pg.ts';

export type AuditActorRole = 'hospital' | 'admin' | 'operator';

export interface AuditEntry {
  actor: { role: AuditActorRole; id: string; institutionId?: string | undefined };
  /** `<subject>.<verb>`: appointment.read, appointment.book, schedule.close, patient.forget … */
  action: string;
  outcome: 'allowed' | 'denied';
  subject: { type: string; id: string };
  /** Small, identity-free facts (a reason code, counts); never a patient id. */
  detail?: Record<string, unknown>;
}

export interface AuditRecord extends Omit<AuditEntry, 'detail'> {
  id: string;
  at: string;
  traceId: string | null;
  detail: Record<string, unknown>;
}

export interface AuditFilter {
  actorId?: string | undefined;
  action?: string | undefined;
  subjectType?: string | undefined;
  subjectId?: string | undefined;
  /** Only entries older than this id (the previous page's cursor). */
  before?: string | undefined;
  limit: number;
}

interface Row {
  id: string;
  at: Date;
  actor_role: AuditActorRole;
  actor_id: string;
  actor_institution: string | null;
  action: string;
  outcome: 'allowed' | 'denied';
  subject_type: string;
  subject_id: string;
  trace_id: string | null;
  detail: Record<string, unknown>;
}

export class PgAuditTrail {
  readonly #db: Queryable;

  constructor(db: Queryable) {
    this.#db = db;
  }

  /**
   * Appends entries, on `db` when given (a transaction's client), else on the trail's own pool,
   * under the active trace (or `traceId`, for a command line that has none).
   */
  async record(
    entries: readonly AuditEntry[],
    db: Queryable = this.#db,
    traceId: string | null = currentContext()?.traceId ?? null,
  ): Promise<void> {
    if (entries.length === 0) return;
    await db.query({
      name: 'audit_log_record',
      text: `INSERT INTO audit_log
               (actor_role, actor_id, actor_institution, action, outcome, subject_type, subject_id, trace_id, detail)
             SELECT r, i, n, a, o, st, si, $8, d
               FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $9::jsonb[])
                 AS t(r, i, n, a, o, st, si, d)`,
      values: [
        entries.map((e) => e.actor.role),
        entries.map((e) => e.actor.id),
        entries.map((e) => e.actor.institutionId ?? null),
        entries.map((e) => e.action),
        entries.map((e) => e.outcome),
        entries.map((e) => e.subject.type),
        entries.map((e) => e.subject.id),
        traceId,
        entries.map((e) => JSON.stringify(e.detail ?? {})),
      ],
    });
  }

  /** One page, newest first; `next` is the cursor of the following (older) page. */
  async list(filter: AuditFilter): Promise<{ items: AuditRecord[]; next: string | null }> {
    const { rows } = await this.#db.query<Row>({
      text: `SELECT * FROM audit_log
              WHERE ($1::text IS NULL OR actor_id = $1)
                AND ($2::text IS NULL OR action = $2)
                AND ($3::text IS NULL OR subject_type = $3)
                AND ($4::text IS NULL OR subject_id = $4)
                AND ($5::bigint IS NULL OR id < $5)
              ORDER BY id DESC
              LIMIT $6`,
      values: [
        filter.actorId ?? null,
        filter.action ?? null,
        filter.subjectType ?? null,
        filter.subjectId ?? null,
        filter.before ?? null,
        filter.limit + 1,
      ],
    });
    const page = rows.slice(0, filter.limit);
    return {
      items: page.map(toRecord),
      next: rows.length > filter.limit ? (page.at(-1)?.id ?? null) : null,
    };
  }
}

/**
 * Who runs an operator command line (a read-model rebuild, a dead-letter replay): there is no
 * token there, so the schema's `operator` role and the OS account that ran it, `user@host`.
 */
export function operatorActor(): AuditEntry['actor'] {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    // A container user without a passwd entry: the environment, else the numeric uid.
    user = process.env.USER ?? `uid-${process.getuid?.() ?? 'unknown'}`;
  }
  return { role: 'operator', id: `${user}@${hostname()}` };
}

/**
 * Records an operator's command-line action BEFORE it runs (an action that cannot be audited does
 * not run). Outside a trace (a CLI has no telemetry SDK) it gets a fresh W3C trace id of its own,
 * returned so the CLI can print it next to its result and the two can be matched.
 */
export async function auditOperatorAction(
  db: Queryable,
  entry: Omit<AuditEntry, 'actor' | 'outcome'>,
): Promise<string> {
  const traceId = currentContext()?.traceId ?? randomBytes(16).toString('hex');
  await new PgAuditTrail(db).record([{ ...entry, actor: operatorActor(), outcome: 'allowed' }], db, traceId);
  return traceId;
}

const toRecord = (r: Row): AuditRecord => ({
  id: r.id,
  at: r.at.toISOString(),
  actor: {
    role: r.actor_role,
    id: r.actor_id,
    ...(r.actor_institution === null ? {} : { institutionId: r.actor_institution }),
  },
  action: r.action,
  outcome: r.outcome,
  subject: { type: r.subject_type, id: r.subject_id },
  traceId: r.trace_id,
  detail: r.detail,
});
