/**
 * The sender: claims due notifications (FOR UPDATE SKIP LOCKED, then a lease, like deadlines),
 * unseals the patient only now, and hands each to the provider with its idempotency key. A crash
 * after the provider accepted and before `sent` was recorded hands it over again once the lease
 * ran out, with the same key: the provider delivers it once. Failures retry with doubling backoff.
 */
import { Counter } from 'prom-client';
import type { Logger } from '../platform/logger.ts';
import type { NotificationProvider } from '../platform/notify/provider.ts';
import type { PatientVault } from '../platform/patient-vault.ts';
import type { Pool } from '../platform/pg.ts';
import type { Registry } from 'prom-client';
import { claimDue, type DueNotification, markAttemptFailed, markSent, markSkipped } from './outbox.ts';
import { messageBody } from './plan.ts';

export interface SenderOptions {
  pool: Pool;
  provider: NotificationProvider;
  vault: Pick<PatientVault, 'patientIdOf'>;
  clock: () => Date;
  logger: Logger;
  registry: Registry;
  me: string;
  leaseSeconds: number;
  batch: number;
  maxAttempts: number;
  retryBaseMs: number;
}

export interface Sender {
  /** One claim: the number of notifications handled. */
  pollOnce(): Promise<number>;
}

/** Why a due notification is no longer worth sending at `now`; undefined: send it. */
export function staleReason(n: Pick<DueNotification, 'kind' | 'payload'>, now: Date): string | undefined {
  const at = (v: unknown) => (typeof v === 'string' ? new Date(v).getTime() : Number.NaN);
  if (n.kind === 'hold_reminder' && at(n.payload.holdExpiresAt) <= now.getTime()) return 'hold_over';
  if (n.kind === 'day_before' && at(n.payload.slotStartsAt) <= now.getTime()) return 'session_started';
  return undefined;
}

export function sender(o: SenderOptions): Sender {
  const counter = (name: string, help: string, labelNames: string[]) =>
    new Counter({ name, help, labelNames, registers: [o.registry] });
  const sent = counter('notifications_sent_total', 'Notifications the provider accepted, by kind', ['kind']);
  const failed = counter(
    'notifications_failed_total',
    'Notifications given up after every attempt, by kind',
    ['kind'],
  );
  const retries = counter('notifications_retries_total', 'Failed attempts to be tried again, by kind', [
    'kind',
  ]);
  const skipped = counter('notifications_skipped_total', 'Due notifications not sent, by kind and reason', [
    'kind',
    'reason',
  ]);

  const handle = async (n: DueNotification): Promise<void> => {
    const now = o.clock();
    const stale = staleReason(n, now);
    const patientId =
      stale || n.patientSealed === null
        ? undefined
        : await o.vault.patientIdOf(n.patientRef, n.patientSealed);
    const reason =
      stale ?? (n.patientSealed === null ? 'no_contact' : patientId === undefined ? 'forgotten' : undefined);
    if (reason !== undefined || patientId === undefined) {
      await markSkipped(o.pool, n.id, o.me, reason ?? 'forgotten');
      skipped.inc({ kind: n.kind, reason: reason ?? 'forgotten' });
      return;
    }
    try {
      const receipt = await o.provider.send({
        idempotencyKey: n.id,
        kind: n.kind,
        recipient: patientId,
        body: messageBody(n.kind, n.payload),
        data: { appointmentId: n.appointmentId, ...n.payload },
      });
      await markSent(o.pool, n.id, o.me, o.provider.name, receipt.messageId);
      sent.inc({ kind: n.kind });
    } catch (err) {
      const retryAt = new Date(now.getTime() + Math.min(o.retryBaseMs * 2 ** n.attempts, 3_600_000));
      const message = err instanceof Error ? err.message : String(err);
      const outcome = await markAttemptFailed(o.pool, n.id, o.me, message, retryAt, o.maxAttempts);
      (outcome === 'failed' ? failed : retries).inc({ kind: n.kind });
      o.logger.warn(
        { notification: n.id, attempt: n.attempts + 1, outcome, err: message },
        'notification not sent',
      );
    }
  };

  return {
    pollOnce: async () => {
      const due = await claimDue(o.pool, o.me, o.clock(), o.leaseSeconds, o.batch);
      await Promise.all(due.map(handle));
      return due.length;
    },
  };
}
