/**
 * Flow control on /metrics, read from the statistics when scraped: no prom-client call on the
 * request path (the query API's fast path pays one integer increment, nothing more).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { EventLoopSignals } from './event-loop.ts';
import type { FlowControl } from './flow-control.ts';

export function registerFlowMetrics(
  registry: Registry,
  flow: FlowControl,
  signals?: () => EventLoopSignals,
): void {
  new Counter({
    name: 'flow_passed_total',
    help: 'Requests admitted per flow-control resource; path=fast: cache hits of the query API fast path (counted, never checked)',
    labelNames: ['resource', 'path'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [resource, stat] of flow.allResources()) {
        this.inc({ resource, path: 'checked' }, stat.totals.pass);
        if (stat.totals.fastPass > 0) this.inc({ resource, path: 'fast' }, stat.totals.fastPass);
      }
    },
  });
  new Counter({
    name: 'flow_blocked_total',
    help: 'Requests refused per flow-control resource and rule (qps, warm-up, paced, concurrency, hot-param, system-bbr, system-event-loop, system-max-in-flight)',
    labelNames: ['resource', 'rule'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [resource, stat] of flow.allResources()) {
        for (const [rule, n] of stat.totals.block) this.inc({ resource, rule }, n);
      }
    },
  });
  new Gauge({
    name: 'flow_in_flight',
    help: 'Admitted requests not yet completed per flow-control resource (a paced wait included)',
    labelNames: ['resource'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [resource, stat] of flow.allResources()) this.set({ resource }, stat.inFlight);
    },
  });
  new Gauge({
    name: 'flow_queued',
    help: 'Requests waiting in an adaptive rule’s queue (maxQueueMs) per flow-control resource',
    labelNames: ['resource'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [resource] of flow.allResources()) this.set({ resource }, flow.queued(resource));
    },
  });
  new Gauge({
    name: 'flow_window_rt_milliseconds',
    help: 'Response time per flow-control resource over its sliding window (histogram bucket bound)',
    labelNames: ['resource', 'quantile'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const now = flow.now();
      for (const [resource, stat] of flow.allResources()) {
        this.set({ resource, quantile: '0.5' }, stat.rtPercentile(now, 0.5));
        this.set({ resource, quantile: '0.99' }, stat.rtPercentile(now, 0.99));
      }
    },
  });
  if (signals) {
    new Gauge({
      name: 'flow_event_loop_delay_milliseconds',
      help: 'Mean event-loop delay of the last sampling window, as system protection reads it',
      registers: [registry],
      collect() {
        this.set(signals().eventLoopDelayMs);
      },
    });
    new Gauge({
      name: 'flow_event_loop_utilization_ratio',
      help: 'Share of the last sampling window the event loop was busy (0-1), as system protection reads it',
      registers: [registry],
      collect() {
        this.set(signals().eventLoopUtilization);
      },
    });
  }
}
