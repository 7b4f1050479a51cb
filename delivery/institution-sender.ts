/**
 * One institution's sender (docs/adr/0016): its own loop, its own guard (timeout, concurrency,
 * breaker with half-open probing: platform/flow/outbound.ts, as the APIs' outbound protection),
 * its own pacing. It sends the head of the institution's queue, one delivery in flight, so the
 * receiver sees the sequence in order; a failed head is retried (backoff with jitter, at least
 * Retry-After) until DELIVERY_PARK_AFTER_MS after its first attempt, then parked, and the queue
 * waits for an admin's replay. Nothing here waits on another institution: a receiver that answers
 * in 30 s or never holds up its own loop only.
 */
import { SpanKind } from '@opentelemetry/api';
import { contextOfTraceparent, inSpan } from '../platform/context.ts';
import { DependencyGuard, DependencyUnavailableError } from '../platform/flow/outbound.ts';
import type { Logger } from '../platform/logger.ts';
import type { PatientVault } from '../platform/patient-vault.ts';
import type { Pool } from '../platform/pg.ts';
import { retryDelayMs } from './backoff.ts';
import type { DeliverySettings } from './config.ts';
import { type Endpoint, guardShapeOf } from './endpoints.ts';
import { type DeliveryBody, idempotencyKeyOf, postDelivery, ReceiverRefused } from './http-delivery.ts';
import {
  claimLease,
  headsOf,
  markDelivered,
  markFailed,
  type QueuedDelivery,
  releaseLease,
} from './outbox.ts';

export interface SenderDeps {
  pool: Pool;
  vault: Pick<PatientVault, 'patientIdOf'>;
  settings: DeliverySettings;
  logger: Logger;
  me: string;
  endpointOf: (institutionId: string) => Endpoint | undefined;
  onOutcome: (institutionId: string, outcome: Outcome, seconds: number) => void;
}

export type Outcome = 'delivered' | 'retry' | 'rejected' | 'parked';

/** Deliveries read per look at an institution's queue (one query instead of one per delivery). */
const READ_AHEAD = 50;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const describe = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class InstitutionSender {
  #guard: DependencyGuard | undefined;
  #shape = '';
  #stopped = false;
  #wake: (() => void) | undefined;
  #leaseUntil = 0;
  #lastSentAt = 0;
  #lastError: string | undefined;
  #running: Promise<void> = Promise.resolve();

  constructor(
    readonly institutionId: string,
    private readonly deps: SenderDeps,
  ) {}

  start(): void {
    this.#running = this.#loop();
  }

  /** Look at the queue now (a delivery was queued, a replay asked for). */
  wake(): void {
    this.#wake?.();
  }

  get breakerState(): string {
    return this.#guard?.state ?? 'closed';
  }

  get lastError(): string | undefined {
    return this.#lastError;
  }

  get guard(): DependencyGuard | undefined {
    return this.#guard;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.wake();
    await this.#running;
    await releaseLease(this.deps.pool, this.institutionId, this.deps.me).catch(() => undefined);
  }

  #idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }

  async #loop(): Promise<void> {
    const { settings, logger } = this.deps;
    while (!this.#stopped) {
      try {
        const waitMs = await this.#step();
        if (waitMs > 0) await this.#idle(waitMs);
      } catch (err) {
        logger.warn(
          { err: describe(err), institutionId: this.institutionId },
          'delivery loop failed; retrying',
        );
        await this.#idle(settings.DELIVERY_POLL_MS * 4);
      }
    }
  }

  #sendable(): Endpoint | undefined {
    const endpoint = this.deps.endpointOf(this.institutionId);
    return endpoint?.enabled && endpoint.secret ? endpoint : undefined;
  }

  /**
   * One look at the queue: reads its first READ_AHEAD deliveries and sends them in order while
   * they are due and delivered; how long to wait before the next look (0: look again now).
   */
  async #step(): Promise<number> {
    const poll = this.deps.settings.DELIVERY_POLL_MS;
    if (!this.#sendable() || !(await this.#holdLease())) return poll;
    const queue = await headsOf(this.deps.pool, this.institutionId, READ_AHEAD);
    for (const d of queue) {
      const endpoint = this.#sendable();
      if (!endpoint || this.#stopped || d.status === 'parked') return poll;
      const dueIn = d.nextAttemptAt.getTime() - Date.now();
      if (dueIn > 0) return Math.min(dueIn, poll);
      const paceIn = this.#lastSentAt + 1000 / endpoint.rateLimitPerS - Date.now();
      if (paceIn > 0) await sleep(paceIn);
      if (!(await this.#holdLease())) return poll;
      this.#lastSentAt = Date.now();
      if (!(await this.#attempt(d, endpoint))) return 0;
    }
    return queue.length === 0 ? poll : 0;
  }

  async #holdLease(): Promise<boolean> {
    const leaseMs = this.deps.settings.DELIVERY_LEASE_MS;
    if (this.#leaseUntil - Date.now() > leaseMs / 2) return true;
    const started = Date.now();
    if (!(await claimLease(this.deps.pool, this.institutionId, this.deps.me, leaseMs))) return false;
    this.#leaseUntil = started + leaseMs;
    return true;
  }

  #guardFor(endpoint: Endpoint): DependencyGuard {
    const shape = guardShapeOf(endpoint);
    if (this.#guard && shape === this.#shape) return this.#guard;
    const s = this.deps.settings;
    this.#shape = shape;
    this.#guard = new DependencyGuard(`his:${this.institutionId}`, {
      timeoutMs: endpoint.timeoutMs,
      concurrency: endpoint.maxConcurrency,
      queue: 0,
      errorRatio: s.DELIVERY_BREAKER_ERROR_RATIO,
      // Slowness is bounded by the timeout (a timeout is a failure): the slow-call breaker (its
      // ratio must lie below 1) opens only if nearly every call outlasts the timeout.
      slowCallRatio: 0.999,
      slowCallMs: endpoint.timeoutMs,
      windowMs: s.DELIVERY_BREAKER_WINDOW_MS,
      minimumRps: s.DELIVERY_BREAKER_MIN_RPS,
      halfOpenAfterMs: s.DELIVERY_BREAKER_HALF_OPEN_MS,
      isFailure: (err) => !(err instanceof ReceiverRefused) || err.retryable,
    });
    return this.#guard;
  }

  async #bodyOf(d: QueuedDelivery): Promise<DeliveryBody> {
    const data = { ...d.draft.data };
    if (d.draft.patient) {
      // Opened only now, never stored in clear: a patient forgotten before the send goes as null.
      const { ref, sealed } = d.draft.patient;
      data.patientId = (await this.deps.vault.patientIdOf(ref, sealed)) ?? null;
    }
    return {
      institutionId: d.institutionId,
      seq: d.seq,
      idempotencyKey: idempotencyKeyOf(d.institutionId, d.seq),
      eventId: d.eventId,
      type: d.draft.type,
      occurredAt: d.draft.occurredAt,
      data,
    };
  }

  /** True when delivered. */
  async #attempt(d: QueuedDelivery, endpoint: Endpoint): Promise<boolean> {
    const started = performance.now();
    const body = await this.#bodyOf(d);
    const guard = this.#guardFor(endpoint);
    try {
      await inSpan(
        `deliver ${d.draft.type}`,
        {
          parent: contextOfTraceparent(d.traceparent),
          kind: SpanKind.CLIENT,
          attributes: { 'booking.institution': d.institutionId, 'booking.delivery.seq': d.seq },
        },
        () =>
          guard.execute((signal) =>
            postDelivery({
              url: endpoint.url,
              secret: endpoint.secret!,
              body,
              signal,
              fallbackTraceparent: d.traceparent,
            }),
          ),
      );
      await markDelivered(this.deps.pool, d);
      this.#lastError = undefined;
      this.deps.onOutcome(d.institutionId, 'delivered', (performance.now() - started) / 1000);
      return true;
    } catch (err) {
      await this.#failed(d, err, (performance.now() - started) / 1000);
      return false;
    }
  }

  async #failed(d: QueuedDelivery, err: unknown, seconds: number): Promise<void> {
    const s = this.deps.settings;
    const refused = err instanceof ReceiverRefused ? err : undefined;
    const unavailable = err instanceof DependencyUnavailableError ? err : undefined;
    const neverLeft = unavailable !== undefined && unavailable.reason !== 'timeout';
    const firstAt = d.firstAttemptAt?.getTime() ?? Date.now();
    const permanent = refused !== undefined && !refused.retryable;
    const park = permanent || Date.now() - firstAt >= s.DELIVERY_PARK_AFTER_MS;
    const delay = neverLeft
      ? unavailable.retryAfterMs
      : retryDelayMs(d.attempts + 1, {
          baseMs: s.DELIVERY_RETRY_BASE_MS,
          maxMs: s.DELIVERY_RETRY_MAX_MS,
          retryAfterMs: refused?.retryAfterMs,
        });
    this.#lastError = describe(err);
    await markFailed(this.deps.pool, d, {
      error: this.#lastError,
      nextAttemptAt: new Date(Date.now() + delay),
      park,
      counts: !neverLeft,
    });
    const outcome: Outcome = park ? 'parked' : neverLeft ? 'rejected' : 'retry';
    this.deps.onOutcome(d.institutionId, outcome, seconds);
    if (park)
      this.deps.logger.warn(
        { institutionId: d.institutionId, seq: d.seq, err: this.#lastError },
        'delivery parked: the institution waits for a replay',
      );
  }
}
