/**
 * The deadline poller (docs/adr/0012 §3): every command API instance claims the due rows of
 * `deadlines` (one autocommitted statement, FOR UPDATE SKIP LOCKED, then a lease) and fires each
 * row's command (`deadlineCommand`: ExpireHold, OfferFreeSlots) through the normal command path.
 * The poller is at-least-once; exactly-once in effect comes from the decider (a second ExpireHold
 * of a hold is a no-op) and the stream's revision (two concurrent ones: the loser re-decides).
 *
 * After a crash nothing in memory is needed: a claimed row whose command never committed is
 * claimed again once its lease ran out; a committed one is gone (deleted in the command's
 * transaction, or right after it).
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { Counter, Gauge } from 'prom-client';
import { deadlineCommand } from '../domain/deadlines.ts';
import type { StoredOutcome } from '../platform/http/idempotency.ts';
import type { Logger } from '../platform/logger.ts';
import type { Registry } from '../platform/http/metrics.ts';
import type { Pool } from '../platform/pg.ts';
import type { Commands } from './command-path.ts';
import { type DueDeadline, PgDeadlines } from './deadlines-table.ts';

export interface DeadlinePollerOptions {
  pool: Pool;
  commands: Pick<Commands, 'execute'>;
  clock: () => Date;
  logger: Logger;
  registry: Registry;
  /** Between polls (after one finished). */
  intervalMs: number;
  /** How long a claim keeps other instances off a row. */
  leaseSeconds: number;
  /** Rows claimed per poll. Default 100. */
  batch?: number;
  /** Who claims (claimed_by). Default host-pid-random. */
  instanceId?: string;
  /** Test seam (the kill -9 test widens the claim-to-commit window with it); never set in production. */
  beforeFire?: (d: DueDeadline) => Promise<void>;
}

export interface DeadlinePoller {
  start(): void;
  /** Stops polling; resolves once the poll under way (if any) finished. */
  stop(): Promise<void>;
  /** One poll now (tests): the number of deadlines fired. */
  pollOnce(): Promise<number>;
}

/** Who the events a deadline fires record as their actor (no person decided them). */
const POLLER_ACTOR = { id: 'platform:deadlines', role: 'admin' } as const;

export function deadlinePoller(opts: DeadlinePollerOptions): DeadlinePoller {
  const me = opts.instanceId ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const table = new PgDeadlines();
  const fired = new Counter({
    name: 'deadlines_fired_total',
    help: 'Deadlines this instance fired, by kind and outcome (decided, no_op, early, refused, failed)',
    labelNames: ['kind', 'outcome'] as const,
    registers: [opts.registry],
  });
  new Gauge({
    name: 'deadlines_due_unfired',
    help: 'Deadlines due for more than one poll interval and not fired yet (should stay near 0)',
    registers: [opts.registry],
    collect: async function (this: Gauge) {
      this.set(await table.overdue(opts.pool, Math.ceil(opts.intervalMs / 1000) + 1).catch(() => -1));
    },
  });

  const fire = async (d: DueDeadline): Promise<void> => {
    try {
      await opts.beforeFire?.(d);
      const outcome = await opts.commands.execute({
        streamId: d.streamId,
        command: deadlineCommand(d, opts.clock()),
        metadata: { actor: POLLER_ACTOR, causationId: `deadline:${d.kind}:${d.subject}:${d.dueAt}` },
        reply: ({ events }) => ({ status: 200, body: { events: events.length } }),
      });
      fired.inc({ kind: d.kind, outcome: await settle(d, outcome) });
    } catch (err) {
      fired.inc({ kind: d.kind, outcome: 'failed' });
      opts.logger.warn({ err, deadline: d }, 'deadline not fired; it will be retried');
      await table.unclaim(opts.pool, d, me).catch(() => undefined);
    }
  };

  /** After the command was decided: the row is done, or (fired early) left for the next poll. */
  const settle = async (d: DueDeadline, outcome: StoredOutcome): Promise<string> => {
    if (outcome.kind === 'problem' && outcome.code === 'hold_not_expired') {
      // This instance's clock is behind the database's: the next poll fires it again.
      await table.unclaim(opts.pool, d, me);
      return 'early';
    }
    await table.remove(opts.pool, d);
    if (outcome.kind === 'problem') {
      opts.logger.warn({ deadline: d, code: outcome.code }, 'deadline refused by the decider; dropped');
      return 'refused';
    }
    return (JSON.parse(outcome.body) as { events: number }).events === 0 ? 'no_op' : 'decided';
  };

  const pollOnce = async (): Promise<number> => {
    const due = await table.claimDue(opts.pool, me, opts.clock(), opts.leaseSeconds, opts.batch ?? 100);
    await Promise.all(due.map(fire));
    return due.length;
  };

  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let stopped = true;
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = pollOnce()
        .catch((err: unknown) => opts.logger.warn({ err }, 'deadline poll failed'))
        .finally(schedule);
    }, opts.intervalMs);
    timer.unref();
  };
  return {
    start: () => {
      if (!stopped || opts.intervalMs <= 0) return;
      stopped = false;
      schedule();
    },
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
    pollOnce,
  };
}
