/**
 * `POST /v1/patients/{patientId}/forget` (admin): crypto-shredding (docs/adr/0010). In ONE
 * transaction it deletes the patient's data key, appends PatientForgotten to `patient-<ref>` and
 * completes the Idempotency-Key: either the patient is forgotten and the projectors hear of it,
 * or neither. Not a schedule command (no decider, no stream to load), so it shares the key
 * handling of command-route.ts but not the command path.
 */
import type { RequestHandler } from 'express';
import { latestPatientEventVersions, patientStreamName } from '../domain/patient-events.ts';
import type { PgAuditTrail } from '../platform/audit.ts';
import type { EventStore, EventStoreTransaction } from '../platform/event-store/event-store.ts';
import { principalOf } from '../platform/http/auth.ts';
import {
  parseIdempotencyKey,
  type PgIdempotencyStore,
  requestFingerprint,
  type StoredOutcome,
} from '../platform/http/idempotency.ts';
import { parseOrThrow } from '../platform/http/zod-problem.ts';
import type { PatientVault } from '../platform/patient-vault.ts';
import type { PoolClient } from '../platform/pg.ts';
import { metadataOf, send } from './command-route.ts';
import { problem } from './problems.ts';
import { forgetPatientRoute } from './route-specs.ts';

export interface ForgetDeps {
  /** A store whose transaction is a PostgreSQL client: the vault, audit and key commit with the event. */
  store: Pick<EventStore<PoolClient>, 'transaction'>;
  idempotency: Pick<PgIdempotencyStore, 'claim' | 'release' | 'complete'>;
  patients: Pick<PatientVault, 'forget'>;
  /** The audit trail: `patient.forget`, naming the patient by reference, in the same transaction. */
  audit?: Pick<PgAuditTrail, 'record'>;
  clock: () => Date;
}

export function forgetPatient(deps: ForgetDeps): RequestHandler {
  return async (req, res) => {
    const principal = principalOf(req);
    const idempotencyKey = parseIdempotencyKey(req);
    const { patientId } = parseOrThrow(forgetPatientRoute.params, req.params);
    const path = req.originalUrl.split('?')[0] ?? req.path;
    const claim = await deps.idempotency.claim(
      principal.sub,
      idempotencyKey,
      requestFingerprint(req.method, path, {}),
    );
    if (claim.kind === 'completed') {
      send(res, claim.outcome, true);
      return;
    }
    let outcome: StoredOutcome;
    try {
      outcome = await deps.store.transaction(async (tx) => {
        const forgotten = await deps.patients.forget(patientId, tx.handle);
        if (forgotten) {
          await deps.audit?.record(
            [
              {
                actor: { role: 'admin', id: principal.sub },
                action: 'patient.forget',
                outcome: 'allowed',
                subject: { type: 'patient', id: forgotten.patientRef },
              },
            ],
            tx.handle,
          );
        }
        const result: StoredOutcome = forgotten
          ? await recordForgotten(
              tx,
              forgotten,
              deps.clock(),
              metadataOf({ id: principal.sub, role: principal.role }, idempotencyKey),
            )
          : problem('patient_not_found');
        await deps.idempotency.complete(tx.handle, principal.sub, idempotencyKey, claim.token, result);
        return result;
      });
    } catch (err) {
      await deps.idempotency.release(principal.sub, idempotencyKey, claim.token).catch(() => undefined);
      throw err;
    }
    send(res, outcome, false);
  };
}

async function recordForgotten(
  tx: EventStoreTransaction<PoolClient>,
  forgotten: { patientRef: string; pseudonym: string },
  now: Date,
  metadata: ReturnType<typeof metadataOf>,
): Promise<StoredOutcome> {
  const forgottenAt = now.toISOString();
  await tx.appendToStream(
    patientStreamName(forgotten.patientRef),
    [
      {
        type: 'PatientForgotten',
        data: { patientRef: forgotten.patientRef, pseudonym: forgotten.pseudonym, forgottenAt },
        metadata: { ...metadata, schemaVersion: latestPatientEventVersions.PatientForgotten },
      },
    ],
    'any',
  );
  return {
    kind: 'response',
    status: 200,
    headers: { 'Content-Type': 'application/json; charset=utf-8' },
    body: JSON.stringify({ status: 'forgotten', forgottenAt }),
  };
}
