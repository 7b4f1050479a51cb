/**
 * The rules every API process starts with: generous (no test or benchmark of the repository is
 * refused by them), and the one per-client limit the issue asks for, on search, the costliest
 * read. A later stage replaces them live from Redis; the same schema validates both.
 *
 * Resource names are `METHOD /path/template` as the route specs declare them; a process only ever
 * enters its own routes, so both APIs share this one document.
 */
import { readFileSync } from 'node:fs';
import { parseFlowRules, type FlowRules, type FlowRulesInput } from './rules.ts';

/**
 * A floor of 20 in flight, the default pool's size (PG_POOL_MAX): never refuse a booking while a
 * pooled connection is free. With the floor at 8 the estimate (maxSuccessQps × minRt) collapsed on a
 * shared host, where RT varies for reasons other than our queue (the relay and projectors beside
 * the API: 18–50 bookings/s instead of 156/s without the rule; ADR 0011, 2026-12-01). A cold
 * window admits a burst of 64 before the first completions give an estimate.
 */
const BOOKING_ADAPTIVE = { kind: 'adaptive', minInFlight: 20, coldInFlight: 64 } as const;

export const DEFAULT_FLOW_RULES_INPUT: FlowRulesInput = {
  system: {
    // Far above what a process of 2 cores serves at once; a runaway backlog is cut here.
    maxInFlight: 4096,
    bbr: true,
    bbrTriggerDelayMs: 100,
    // The pool-queue trigger stays off by default: at 10 queued (with a floor of 20 in flight) it
    // cut the closed-loop booking benchmark (50 connections, pool 20) from about 0.5× to 0.28× Emmett,
    // shedding 35–40% of requests (bench/results/overload.md, ADR 0011). Opt in per environment.
    bbrTriggerQueued: null,
    // Sentinel's CPU-usage trigger, read as the loop's busy share: a saturated loop keeps a short
    // delay while requests wait unread in the kernel's socket buffers (ADR 0025). Under BBR then,
    // never fewer than the pool's 20 in flight: with a floor of 8 a closed loop of 50 clients
    // re-sending every 503 at once fell to 0.4× Emmett; at 20 it held its throughput.
    bbrTriggerUtilization: 0.9,
    bbrMinInFlight: 20,
    maxEventLoopDelayMs: 500,
  },
  resources: {
    // Per client address: 20 searches a second with bursts to 60 (the probe sent 200/s from one).
    'GET /v1/search/institutions': [
      { kind: 'hot-param', param: { from: 'ip' }, count: 20, burst: 40, maxValues: 50_000 },
      // A search that misses the cache waits on the engine (a few search threads): past what it
      // serves without a queue, shed (bench/results/overload.md: P99 25× unloaded at 4× without).
      { kind: 'adaptive', minInFlight: 8, coldInFlight: 64 },
      { kind: 'concurrency', count: 256 },
    ],
    // Commands wait on a pool of PG_POOL_MAX connections: past what the pool serves without a queue
    // (BBR on the route's own figures, never below the pool's 20 in flight) a booking is shed,
    // 503, instead of queueing (bench/results/overload.md: P99 175× the unloaded one without it).
    'POST /v1/appointments': [BOOKING_ADAPTIVE, { kind: 'concurrency', count: 1024 }],
    'POST /v1/appointments/:appointmentId/cancel': [BOOKING_ADAPTIVE, { kind: 'concurrency', count: 1024 }],
    'POST /v1/schedules': [{ kind: 'concurrency', count: 1024 }],
  },
};

export const defaultFlowRules = (): FlowRules => parseFlowRules(DEFAULT_FLOW_RULES_INPUT);

/**
 * This deployment's file default: the document at `file` (FLOW_RULES_FILE), read and validated once
 * at start so a bad file stops the process there, not at the first request; without one, the
 * built-in defaults above.
 */
export function fileDefaultFlowRules(file: string | undefined): () => FlowRules {
  if (file === undefined) return defaultFlowRules;
  let rules: FlowRules;
  try {
    rules = parseFlowRules(JSON.parse(readFileSync(file, 'utf8')));
  } catch (err) {
    throw new Error(`FLOW_RULES_FILE ${file}: not a valid flow-rules document: ${String(err)}`);
  }
  return () => rules;
}
