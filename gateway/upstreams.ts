/**
 * The instances behind the gateway (docs/adr/0021): one pool per API, each instance probed on
 * `/readyz` every `healthIntervalMs` (balancer.ts decides what a probe or a connection error does
 * to its health), the live gray-release shares, and the metrics that let the two builds be
 * compared: request duration and connection errors by service, version and track.
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import { HTTP_DURATION_BUCKETS, type Registry } from '../platform/http/metrics.ts';
import type { Logger } from '../platform/logger.ts';
import {
  afterCheck,
  DEFAULT_HEALTH_POLICY,
  instance,
  ServicePool,
  type HealthPolicy,
  type Instance,
  type Track,
} from './balancer.ts';
import { serviceUrlsOf, type GatewayConfig } from './config.ts';
import type { GrayWatch } from './gray-store.ts';
import type { Upstream } from './routing.ts';

export const SERVICE_OF: Record<Upstream, string> = { command: 'command-api', query: 'query-api' };

export interface UpstreamMetrics {
  duration: Histogram<'service' | 'version' | 'track' | 'status_code'>;
  connectionErrors: Counter<'service' | 'version' | 'track'>;
}

export interface Upstreams {
  readonly pools: Record<Upstream, ServicePool>;
  readonly metrics: UpstreamMetrics;
  /** The canary share of a service in percent; 0 without a canary pool or a gray store. */
  share(service: string): number;
  /** A connection error while proxying to an instance: out of rotation until its probes pass. */
  connectionFailed(target: Instance, code: string | undefined): void;
  /** Probes every instance once (the timer does this every healthIntervalMs; tests call it). */
  probe(): Promise<void>;
  /** Every instance with its health, load and requests sent (tests; diagnostics). */
  describe(): {
    service: string;
    url: string;
    version: string;
    track: Track;
    healthy: boolean;
    pending: number;
    sent: number;
  }[];
  stop(): void;
}

// A refused connection means nothing listens there: an unambiguous, immediate verdict. A reset or a
// timeout can be one stale keep-alive socket or one slow answer; those count like a failed probe.
const REFUSED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND']);

/**
 * 1 s whatever the probe interval (probes are coalesced, never overlapping): a shorter deadline
 * ejected instances of a loaded host that answered /readyz in 200–1000 ms.
 */
const PROBE_TIMEOUT_MS = 1000;

async function ready(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}

export function startUpstreams(
  gateway: GatewayConfig,
  opts: {
    registry: Registry;
    logger: Logger;
    gray?: GrayWatch;
    policy?: HealthPolicy;
    /** Default gateway.healthIntervalMs, else 2 s; 0: no timer (tests probe by hand). */
    healthIntervalMs?: number;
  },
): Upstreams {
  const urls = serviceUrlsOf(gateway);
  const stableVersion = gateway.stableVersion ?? 'stable';
  const canaryVersion = gateway.canaryVersion ?? 'canary';
  const poolOf = (upstream: Upstream) =>
    new ServicePool(SERVICE_OF[upstream], [
      ...urls[upstream].stable.map((u) => instance(u, stableVersion, 'stable')),
      ...urls[upstream].canary.map((u) => instance(u, canaryVersion, 'canary')),
    ]);
  const pools: Record<Upstream, ServicePool> = { command: poolOf('command'), query: poolOf('query') };
  const all = () => [...pools.command.instances, ...pools.query.instances];
  const serviceOf = new Map<Instance, string>();
  for (const pool of Object.values(pools)) for (const i of pool.instances) serviceOf.set(i, pool.service);
  const policy = opts.policy ?? DEFAULT_HEALTH_POLICY;
  const { registry, logger } = opts;

  const metrics: UpstreamMetrics = {
    duration: new Histogram({
      name: 'gateway_upstream_request_duration_seconds',
      help: 'Requests proxied to an API instance, by service, build version, gray track and status code',
      labelNames: ['service', 'version', 'track', 'status_code'] as const,
      buckets: HTTP_DURATION_BUCKETS,
      registers: [registry],
    }),
    connectionErrors: new Counter({
      name: 'gateway_upstream_connection_errors_total',
      help: 'Requests the gateway could not deliver to an API instance (refused, reset, timed out)',
      labelNames: ['service', 'version', 'track'] as const,
      registers: [registry],
    }),
  };
  new Gauge({
    name: 'gateway_upstream_healthy',
    help: '1 while an API instance is in rotation, 0 while ejected by its health checks',
    labelNames: ['service', 'version', 'url'] as const,
    registers: [registry],
    collect() {
      for (const i of all()) {
        this.set(
          { service: serviceOf.get(i) ?? '', version: i.version, url: i.url },
          i.health.healthy ? 1 : 0,
        );
      }
    },
  });
  const hasCanary = (service: string) =>
    Object.values(pools).some((p) => p.service === service && p.of('canary').length > 0);
  const share = (service: string) => (hasCanary(service) ? (opts.gray?.share(service) ?? 0) : 0);
  new Gauge({
    name: 'gateway_gray_share_percent',
    help: 'Share of users (percent) the gateway routes to the canary build of a service',
    labelNames: ['service'] as const,
    registers: [registry],
    collect() {
      for (const pool of Object.values(pools)) this.set({ service: pool.service }, share(pool.service));
    },
  });

  const judge = (target: Instance, outcome: 'ok' | 'failed' | 'passive', why: string) => {
    const before = target.health.healthy;
    target.health = afterCheck(target.health, outcome, policy);
    if (before === target.health.healthy) return;
    const fields = { upstream: serviceOf.get(target), url: target.url, version: target.version, why };
    if (target.health.healthy) logger.info(fields, 'upstream instance back in rotation');
    else logger.warn(fields, 'upstream instance out of rotation');
  };

  const intervalMs = opts.healthIntervalMs ?? gateway.healthIntervalMs ?? 2000;
  let probing: Promise<void> | undefined;
  const probe = () =>
    (probing ??= Promise.all(
      all().map(async (i) => {
        const ok = await ready(i.url);
        judge(i, ok ? 'ok' : 'failed', ok ? 'ready' : 'readyz failed');
      }),
    )
      .then(() => undefined)
      .finally(() => (probing = undefined)));
  const timer = intervalMs > 0 ? setInterval(() => void probe(), intervalMs).unref() : undefined;

  return {
    pools,
    metrics,
    share,
    connectionFailed(target, code) {
      const labels = { service: serviceOf.get(target) ?? '', version: target.version, track: target.track };
      metrics.connectionErrors.inc(labels);
      judge(target, code !== undefined && REFUSED.has(code) ? 'passive' : 'failed', code ?? 'error');
    },
    probe,
    describe: () =>
      all().map((i) => ({
        service: serviceOf.get(i) ?? '',
        url: i.url,
        version: i.version,
        track: i.track,
        healthy: i.health.healthy,
        pending: i.pending,
        sent: i.sent,
      })),
    stop() {
      if (timer) clearInterval(timer);
      opts.gray?.stop();
    },
  };
}
