/**
 * The flow-control core: named resources, each with its live statistics and its rules, and one
 * call to enter a resource. Pure: the clock and the system signals are injected, and no decision
 * starts a timer (a paced rule's wait is returned, not slept), so every rule is unit-testable
 * with a fake clock.
 *
 *   const e = flow.entry('GET /v1/search/institutions', { inbound: true, params });
 *   if (!e.pass) → refuse (e.rule, e.retryAfterMs); else wait e.waitMs, do the work, e.release({ error })
 *
 * Outbound protection (stage 2: cockatiel breakers and bulkheads, rate-limiter-flexible's
 * cluster-wide budgets) plugs in as further checks around the same entry/release pair.
 */
import { ClusterBudgets } from './cluster.ts';
import {
  ClusterQpsController,
  controllerFor,
  type Controller,
  type Decision,
  type ParamLookup,
} from './controllers.ts';
import type { FlowRule, FlowRules, ParamSource } from './rules.ts';
import { ResourceStat, type StatSnapshot } from './statistic.ts';
import { checkSystem, type SystemSignals } from './system.ts';

/** A refusal: which rule (its kind, or `system-…`), whether system protection refused, when to retry. */
export interface Blocked {
  pass: false;
  resource: string;
  rule: string;
  system: boolean;
  retryAfterMs: number;
  /** The limit the refusing rule enforces (for RateLimit-Limit), when it has one. */
  limit?: number;
}

export interface Entry {
  pass: true;
  resource: string;
  /** Paced queueing: how long the caller must wait before doing the work (0: at once). */
  waitMs: number;
  /** Ends the entry (idempotent): in flight −1, RT and outcome into the statistics. */
  release(opts?: { error?: boolean; now?: number }): void;
  /**
   * Present when the resource has cluster-wide budgets: resolves to a refusal (the entry is then
   * already undone: not counted as passed, nothing to release) or to undefined (admitted).
   */
  cluster?: Promise<Blocked | undefined>;
  /**
   * Present when an adaptive rule queued the request: `admitted` resolves to undefined once one in
   * flight finished and made room (the entry is then admitted, and `cluster` set if the resource
   * has cluster budgets), or to a refusal once its wait ran out. The caller keeps time: `expire`
   * after `maxWaitMs` refuses it if it still waits. A release while queued (the client left)
   * takes it out of the queue, and `admitted` never resolves.
   */
  queued?: { admitted: Promise<Blocked | undefined>; maxWaitMs: number; expire(): void };
}

export interface EntryOptions {
  /** Inbound requests also pass system protection and count in the process's inbound statistics. */
  inbound?: boolean;
  /** Parameter values for hot-parameter rules: a lookup, or a record keyed by `paramKey`. */
  params?: ParamLookup | Record<string, string | undefined>;
  now?: number;
}

/** The key of a parameter source in a params record: `ip`, `query:city`, `path:id`, `header:x-client`. */
export const paramKey = (source: ParamSource): string =>
  source.from === 'ip' ? 'ip' : `${source.from}:${source.name}`;

const NO_PARAMS: ParamLookup = () => undefined;

type QueueDecision = NonNullable<Extract<Decision, { pass: true }>['queue']> & { rule: string };

function lookupOf(params: EntryOptions['params']): ParamLookup {
  if (params === undefined) return NO_PARAMS;
  if (typeof params === 'function') return params;
  return (source) => params[paramKey(source)];
}

/** A request waiting in a resource's queue for an adaptive rule's room. */
interface Waiter {
  enqueuedAt: number;
  maxWaitMs: number;
  hasRoom(stat: ResourceStat, now: number): boolean;
  admit(now: number): void;
  refuse(now: number): void;
}

class Resource {
  readonly stat: ResourceStat;
  controllers: Controller[] = [];
  /** FIFO; short (bounded by the rule's wait at the best completion rate), so an array. */
  readonly queue: Waiter[] = [];

  constructor(
    readonly name: string,
    window: FlowRules['window'],
  ) {
    this.stat = new ResourceStat(window);
  }
}

export interface FlowControlOptions {
  /** Milliseconds on a monotonic clock. Default performance.now(). */
  clock?: () => number;
  /** Event-loop delay and the like, for system protection. Default: none measured. */
  signals?: () => SystemSignals;
  /** Where cluster-qps rules count. Default: each instance's local share only (no Redis). */
  cluster?: ClusterBudgets;
}

export class FlowControl {
  private rules: FlowRules;
  private readonly resources = new Map<string, Resource>();
  private readonly clock: () => number;
  private readonly signals: () => SystemSignals;
  readonly cluster: ClusterBudgets;
  /** Every inbound request of the process (Sentinel's ENTRY_NODE), for system protection. */
  inbound: ResourceStat;
  /** System protection refusals since start, by rule. */
  readonly systemBlocks = new Map<string, number>();

  constructor(rules: FlowRules, opts: FlowControlOptions = {}) {
    this.rules = rules;
    this.clock = opts.clock ?? (() => performance.now());
    this.signals = opts.signals ?? (() => ({ eventLoopDelayMs: 0 }));
    this.cluster = opts.cluster ?? new ClusterBudgets();
    this.inbound = new ResourceStat(rules.window);
  }

  get currentRules(): FlowRules {
    return this.rules;
  }

  now(): number {
    return this.clock();
  }

  /**
   * Replaces the rules. A rule that did not change keeps its state (a warm-up's tokens, a paced
   * queue's tail, hot-parameter buckets); statistics are kept unless the window changed.
   */
  setRules(rules: FlowRules): void {
    const windowChanged = JSON.stringify(rules.window) !== JSON.stringify(this.rules.window);
    this.rules = rules;
    if (windowChanged) this.inbound = new ResourceStat(rules.window);
    for (const [name, old] of this.resources) {
      const fresh = windowChanged ? new Resource(name, rules.window) : old;
      fresh.controllers = this.controllersFor(name, old.controllers);
      this.resources.set(name, fresh);
    }
  }

  private controllersFor(name: string, previous: readonly Controller[] = []): Controller[] {
    const rules: readonly FlowRule[] = this.rules.resources[name] ?? [];
    const kept = new Map(previous.map((c) => [JSON.stringify(c.rule), c]));
    return rules.map((rule) => kept.get(JSON.stringify(rule)) ?? controllerFor(rule));
  }

  private resource(name: string): Resource {
    let r = this.resources.get(name);
    if (!r) {
      r = new Resource(name, this.rules.window);
      r.controllers = this.controllersFor(name);
      this.resources.set(name, r);
    }
    return r;
  }

  /** The statistics of a resource (created on first use). */
  stat(name: string): ResourceStat {
    return this.resource(name).stat;
  }

  /** The rule states of a resource, in rule order (the admin view shows e.g. hot values tracked). */
  controllers(name: string): readonly Controller[] {
    return this.resource(name).controllers;
  }

  /** Requests waiting now in the resource's queue (an adaptive rule's `maxQueueMs`). */
  queued(name: string): number {
    return this.resources.get(name)?.queue.length ?? 0;
  }

  /** Counts a request admitted without a check (the query API's cache-hit fast path): one increment. */
  fastPassCounter(name: string): () => void {
    const totals = this.resource(name).stat.totals;
    return () => {
      totals.fastPass += 1;
    };
  }

  entry(name: string, opts: EntryOptions = {}): Entry | Blocked {
    const now = opts.now ?? this.clock();
    const resource = this.resource(name);
    const { stat } = resource;
    if (opts.inbound) {
      const verdict = checkSystem(this.rules.system, this.inbound, this.signals(), now);
      if (!verdict.pass) {
        stat.addBlock(now, verdict.rule);
        this.systemBlocks.set(verdict.rule, (this.systemBlocks.get(verdict.rule) ?? 0) + 1);
        return {
          pass: false,
          resource: name,
          rule: verdict.rule,
          system: true,
          retryAfterMs: verdict.retryAfterMs,
        };
      }
    }
    const params = lookupOf(opts.params);
    const undo: (() => void)[] = [];
    let waitMs = 0;
    let queue: QueueDecision | undefined;
    if (resource.queue.length > 0) this.drain(resource, now);
    for (const controller of resource.controllers) {
      const decision = controller.check({ now, stat, params, queued: resource.queue.length });
      if (!decision.pass) {
        // What earlier rules took for this request (a hot value's token) is given back.
        for (const u of undo) u();
        stat.addBlock(now, controller.rule.kind);
        return {
          pass: false,
          resource: name,
          rule: controller.rule.kind,
          // An adaptive limit sheds overload: answered as system protection is (503), not as a budget.
          system: decision.overload === true,
          retryAfterMs: decision.retryAfterMs,
          ...(decision.limit === undefined ? {} : { limit: decision.limit }),
        };
      }
      if (decision.undo) undo.push(decision.undo);
      waitMs = Math.max(waitMs, decision.waitMs);
      queue ??= decision.queue && { ...decision.queue, rule: controller.rule.kind };
    }
    const inbound = opts.inbound === true;
    if (queue) return this.enqueue(resource, now, { ...queue, waitMs }, inbound, params, undo);
    return this.admitNow(resource, now, waitMs, inbound, params, undo);
  }

  private admitNow(
    resource: Resource,
    now: number,
    waitMs: number,
    inbound: boolean,
    params: ParamLookup,
    undo: readonly (() => void)[],
  ): Entry {
    const { entry, revoke } = this.admit(resource, now, waitMs, inbound);
    const cluster = resource.controllers.filter((c) => c instanceof ClusterQpsController);
    if (cluster.length > 0) entry.cluster = this.checkCluster(resource, cluster, params, [...undo, revoke]);
    return entry;
  }

  /** A request that waits for room: admitted by `drain` when one in flight finishes, or refused. */
  private enqueue(
    resource: Resource,
    now: number,
    queue: QueueDecision & { waitMs: number },
    inbound: boolean,
    params: ParamLookup,
    undo: readonly (() => void)[],
  ): Entry {
    let admitted: Entry | undefined;
    let settle!: (blocked: Blocked | undefined) => void;
    const waiter: Waiter = {
      enqueuedAt: now,
      maxWaitMs: queue.maxWaitMs,
      hasRoom: queue.hasRoom,
      admit: (at) => {
        // A paced rule's wait, if the resource has one too, still applies once admitted.
        admitted = this.admitNow(resource, at, queue.waitMs, inbound, params, undo);
        if (admitted.cluster) shell.cluster = admitted.cluster;
        settle(undefined);
      },
      refuse: (at) => {
        for (const u of undo) u();
        resource.stat.addBlock(at, queue.rule);
        settle({ pass: false, resource: resource.name, rule: queue.rule, system: true, retryAfterMs: 1000 });
      },
    };
    const leave = () => {
      const i = resource.queue.indexOf(waiter);
      if (i >= 0) resource.queue.splice(i, 1);
      return i >= 0;
    };
    const shell: Entry = {
      pass: true,
      resource: resource.name,
      waitMs: queue.waitMs,
      release: (opts) => {
        if (admitted) admitted.release(opts);
        else if (leave()) for (const u of undo) u();
      },
      queued: {
        admitted: new Promise((resolve) => (settle = resolve)),
        maxWaitMs: queue.maxWaitMs,
        expire: () => {
          if (leave()) waiter.refuse(this.clock());
        },
      },
    };
    resource.queue.push(waiter);
    return shell;
  }

  /** Admits the queue's head while its rule has room; refuses those whose wait ran out. */
  private drain(resource: Resource, now: number): void {
    const q = resource.queue;
    for (let head = q[0]; head !== undefined; head = q[0]) {
      if (now - head.enqueuedAt > head.maxWaitMs) {
        q.shift();
        head.refuse(now);
      } else if (head.hasRoom(resource.stat, now)) {
        q.shift();
        head.admit(now);
      } else return;
    }
  }

  /** The cluster-wide budgets, in rule order; a refusal undoes the admission. */
  private async checkCluster(
    resource: Resource,
    controllers: readonly ClusterQpsController[],
    params: ParamLookup,
    undo: readonly (() => void)[],
  ): Promise<Blocked | undefined> {
    for (const { rule } of controllers) {
      const value = rule.param ? params(rule.param) : 'all';
      if (value === undefined) continue;
      const verdict = await this.cluster.consume(resource.name, rule, value);
      if (verdict.pass) continue;
      for (const u of undo) u();
      resource.stat.addBlock(this.clock(), rule.kind);
      return {
        pass: false,
        resource: resource.name,
        rule: rule.kind,
        system: false,
        retryAfterMs: verdict.retryAfterMs,
        limit: verdict.limit,
      };
    }
    return undefined;
  }

  private admit(
    resource: Resource,
    now: number,
    waitMs: number,
    inbound: boolean,
  ): { entry: Entry; revoke: () => void } {
    const { stat } = resource;
    stat.addPass(now);
    if (inbound) this.inbound.addPass(now);
    let released = false;
    // RT is the service time: a paced wait is the rule's doing, not the resource's latency.
    const startedAt = now + waitMs;
    const entry: Entry = {
      pass: true,
      resource: resource.name,
      waitMs,
      release: (opts = {}) => {
        if (released) return;
        released = true;
        const end = opts.now ?? this.clock();
        const rt = Math.max(0, end - startedAt);
        stat.complete(end, rt, opts.error === true);
        if (inbound) this.inbound.complete(end, rt, opts.error === true);
        if (resource.queue.length > 0) this.drain(resource, end);
      },
    };
    // A later (cluster) refusal: as if never admitted.
    const revoke = () => {
      if (released) return;
      released = true;
      stat.withdraw(now);
      if (inbound) this.inbound.withdraw(now);
      if (resource.queue.length > 0) this.drain(resource, this.clock());
    };
    return { entry, revoke };
  }

  /** Every resource's figures over its current window. */
  snapshot(now = this.clock()): Record<string, StatSnapshot> {
    const out: Record<string, StatSnapshot> = {};
    for (const [name, r] of this.resources) out[name] = r.stat.snapshot(now);
    return out;
  }

  /** Names and statistics of every resource seen, for /metrics. */
  *allResources(): Iterable<[string, ResourceStat]> {
    for (const [name, r] of this.resources) yield [name, r.stat];
  }
}
