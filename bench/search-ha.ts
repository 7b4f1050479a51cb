/**
 * The search-node drill (npm run drill:search-node; run it under the test lock): does search keep
 * answering when a node of a replicated cluster dies?
 *
 *   1. starts its own two-node OpenSearch cluster with the engines' code (infra/local/search-nodes.ts)
 *      on spare ports (default http :9211/:9212, transport :9311/:9312, data under /tmp), never
 *      touching the shared engines
 *   2. creates the institutions index through the platform's search module, with the layout an
 *      environment would set (SEARCH_URLS = both nodes, SEARCH_REPLICAS=1), indexes the 3,000
 *      seeded institutions as the catalog projector writes them, and takes every query of
 *      bench/search-relevance.json that has hits as the expected answer
 *   3. sends those queries at a steady rate (open loop) through the search port with the query
 *      API's client options (1.5 s timeout, maxRetries 0), kill -9s a node mid-run (by default the
 *      one that is not the elected cluster manager: it holds a copy of every shard and takes half
 *      the queries; `--kill manager` kills the manager instead, which two nodes cannot survive
 *      cleanly, see ADR 0022), keeps querying on one node, restarts the node, keeps querying
 *      until the cluster is green again and a little after
 *   4. prints and writes bench/results/search-ha.md: per phase, queries sent, failed (an error),
 *      empty (no hits for a query that had hits), changed (a total other than the expected one),
 *      latency P50/P99/max
 *
 * Exits 1 if any query failed, came back empty or changed. Every JVM it started is stopped at the
 * end, also on failure or Ctrl-C.
 *
 * Options: --rate <q/s> (20) --before <s> (10) --down <s> (20) --after <s> (5)
 *   --kill other|manager (other) --http-port (9211) --transport-port (9311) --out <path>
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import {
  clusterHealth,
  pidsWithMarker,
  searchClusterPlan,
  spawnSearchNode,
  stopPids,
  waitForCluster,
  type SearchNodePlan,
} from '../infra/local/search-nodes.ts';
import { parseConfig } from '../platform/config.ts';
import { institutionSearchQuery } from '../platform/search/institution-query.ts';
import { searchFromConfig } from '../platform/search/index.ts';
import { loadSeededInstitutions } from './search-catalog.ts';
import type { RelevanceQuery } from './search-relevance-set.ts';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '20' },
    before: { type: 'string', default: '10' },
    down: { type: 'string', default: '20' },
    after: { type: 'string', default: '5' },
    kill: { type: 'string', default: 'other' },
    'http-port': { type: 'string', default: '9211' },
    'transport-port': { type: 'string', default: '9311' },
    heap: { type: 'string', default: '-Xms512m -Xmx512m' },
    out: { type: 'string', default: 'bench/results/search-ha.md' },
  },
});

const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const f1 = (n: number) => n.toFixed(1);

const ROOT = '/tmp/search-ha-drill';
const plan = searchClusterPlan({
  count: 2,
  clusterName: 'search-ha-drill',
  httpPort: Number(args['http-port']),
  transportPort: Number(args['transport-port']),
  dataDir: (n) => `${ROOT}/node-${n}`,
  log: (n) => `${ROOT}/node-${n}.log`,
  marker: (n) => `-Dbooking.drill=search-ha-node-${n}`,
  heap: args.heap,
});

/** Pids of the drill's nodes, by node number: what `finally` stops. */
const pids = new Map<number, number>();

async function stopAll(): Promise<void> {
  const all = [...pids.values(), ...plan.nodes.flatMap((n) => pidsWithMarker(n.marker))];
  await stopPids([...new Set(all)], 15_000);
  pids.clear();
}

type Phase = 'both nodes' | 'one node killed' | 'node restarting' | 'green again';

interface Outcome {
  phase: Phase;
  ms: number;
  error?: string;
  hits: number;
  total: number;
  expectedTotal: number;
}

interface Expected {
  q: RelevanceQuery;
  total: number;
}

const queryOf = (q: RelevanceQuery) => ({
  query: institutionSearchQuery({ q: q.q, city: q.city }),
  sort: [{ _score: 'desc' }, { id: 'asc' }],
  size: 10,
});

/** The node to kill: the elected cluster manager, or the other one. */
async function victim(survivorPort: number): Promise<SearchNodePlan> {
  const res = await fetch(
    `http://127.0.0.1:${survivorPort}/_cat/nodes?h=http_address,cluster_manager&format=json`,
  );
  const rows = (await res.json()) as { http_address: string; cluster_manager: string }[];
  const manager = rows.find((r) => r.cluster_manager === '*')?.http_address;
  const isManager = (n: SearchNodePlan) => manager?.endsWith(`:${n.httpPort}`) ?? false;
  const node = plan.nodes.find((n) => (args.kill === 'manager' ? isManager(n) : !isManager(n)));
  if (!node) throw new Error(`no node to kill (${args.kill}) in ${JSON.stringify(rows)}`);
  return node;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function phaseTable(outcomes: Outcome[]): string {
  const phases: Phase[] = ['both nodes', 'one node killed', 'node restarting', 'green again'];
  const lines = [
    '| phase | sent | failed | empty | changed | P50 ms | P99 ms | max ms |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const phase of [...phases, 'all' as const]) {
    const of = phase === 'all' ? outcomes : outcomes.filter((o) => o.phase === phase);
    const ms = of.map((o) => o.ms).sort((a, b) => a - b);
    const failed = of.filter((o) => o.error).length;
    const empty = of.filter((o) => !o.error && o.hits === 0).length;
    const changed = of.filter((o) => !o.error && o.hits > 0 && o.total !== o.expectedTotal).length;
    const row = [
      of.length,
      failed,
      empty,
      changed,
      f1(percentile(ms, 50)),
      f1(percentile(ms, 99)),
      f1(ms.at(-1) ?? 0),
    ];
    lines.push(`| ${phase === 'all' ? '**all**' : phase} | ${row.join(' | ')} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  const started = Date.now();
  // A drill that died before its `finally` may have left its nodes: they are this drill's, by marker.
  await stopAll();
  for (const node of plan.nodes) {
    if (await clusterHealth(node.httpPort))
      throw new Error(`port ${node.httpPort} is taken; pass --http-port`);
  }
  rmSync(ROOT, { recursive: true, force: true });
  mkdirSync(ROOT, { recursive: true });
  for (const node of plan.nodes) pids.set(node.number, spawnSearchNode(plan, node));
  log(`started ${plan.nodes.map((n) => `${n.name} pid ${pids.get(n.number)} :${n.httpPort}`).join(', ')}`);
  const first = plan.nodes[0]!.httpPort;
  await waitForCluster(
    first,
    { nodes: 2, status: 'green', timeoutMs: 300_000, pids: [...pids.values()] },
    log,
  );
  const formedS = (Date.now() - started) / 1000;
  log(`cluster of 2 nodes green after ${f1(formedS)} s`);

  const urls = plan.nodes.map((n) => `http://127.0.0.1:${n.httpPort}`).join(',');
  const parsed = parseConfig({ SEARCH_ENGINE: 'opensearch', SEARCH_URLS: urls, SEARCH_REPLICAS: '1' });
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  // Set-up as the catalog projector does it (default client options: index creation waits for
  // the replica); the load with the query API's (query-api/start.ts): 1.5 s timeout, no retries.
  const admin = searchFromConfig(parsed.config);
  const search = searchFromConfig(parsed.config, { requestTimeoutMs: 1500, maxRetries: 0 });
  const alias = `search-ha-${Date.now().toString(36)}`;
  try {
    const { index, docs } = await loadSeededInstitutions(admin, alias);
    await waitForCluster(first, { nodes: 2, status: 'green', timeoutMs: 120_000 }, log);
    const settings = (await (await fetch(`http://127.0.0.1:${first}/${index}/_settings`)).json()) as Record<
      string,
      { settings: { index: { number_of_shards: string; number_of_replicas: string } } }
    >;
    const layout = settings[index]!.settings.index;
    log(
      `index ${index}: ${docs} documents, ${layout.number_of_shards} shard(s), ${layout.number_of_replicas} replica(s)`,
    );

    const set = JSON.parse(readFileSync(new URL('search-relevance.json', import.meta.url), 'utf8')) as {
      queries: RelevanceQuery[];
    };
    const expected: Expected[] = [];
    for (const q of set.queries) {
      const result = await admin.search(alias, queryOf(q));
      if (result.hits.length > 0) expected.push({ q, total: result.total });
    }
    log(`${expected.length} of ${set.queries.length} relevance queries have hits: the expected answers`);

    // Open loop: a query every 1/rate s whether or not the previous one answered.
    let phase: Phase = 'both nodes';
    const outcomes: Outcome[] = [];
    const inFlight = new Set<Promise<void>>();
    let sending = true;
    const interval = 1000 / Number(args.rate);
    const sender = (async () => {
      let i = 0;
      const t0 = performance.now();
      while (sending) {
        const e = expected[i % expected.length]!;
        const at = phase;
        const sent = performance.now();
        const p = search.search(alias, queryOf(e.q)).then(
          (r) => {
            outcomes.push({
              phase: at,
              ms: performance.now() - sent,
              hits: r.hits.length,
              total: r.total,
              expectedTotal: e.total,
            });
          },
          (err: unknown) => {
            const error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
            outcomes.push({
              phase: at,
              ms: performance.now() - sent,
              error,
              hits: 0,
              total: 0,
              expectedTotal: e.total,
            });
          },
        );
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
        i++;
        const next = t0 + i * interval;
        await sleep(Math.max(0, next - performance.now()));
      }
    })();

    await sleep(Number(args.before) * 1000);
    const killed = await victim(first);
    const survivor = plan.nodes.find((n) => n !== killed)!;
    const killedPid = pids.get(killed.number)!;
    process.kill(killedPid, 'SIGKILL');
    pids.delete(killed.number);
    phase = 'one node killed';
    log(
      `kill -9 ${killed.name} (pid ${killedPid}, :${killed.httpPort}, ${args.kill === 'manager' ? 'the elected cluster manager' : 'not the cluster manager'})`,
    );
    await sleep(Number(args.down) * 1000);
    const survivorHealth = await clusterHealth(survivor.httpPort);
    log(
      `survivor ${survivor.name} sees: ${survivorHealth ? `${survivorHealth.status}, ${survivorHealth.number_of_nodes} node(s)` : 'no cluster health (no cluster manager)'}`,
    );

    phase = 'node restarting';
    const restartedAt = Date.now();
    pids.set(killed.number, spawnSearchNode(plan, killed));
    log(`restarted ${killed.name} (pid ${pids.get(killed.number)})`);
    await waitForCluster(
      survivor.httpPort,
      { nodes: 2, status: 'green', timeoutMs: 300_000, pids: [...pids.values()] },
      log,
    );
    const greenS = (Date.now() - restartedAt) / 1000;
    phase = 'green again';
    log(`green again with 2 nodes ${f1(greenS)} s after the restart`);
    await sleep(Number(args.after) * 1000);
    sending = false;
    await sender;
    await Promise.all([...inFlight]);

    const bad = outcomes.filter((o) => o.error || o.hits === 0 || o.total !== o.expectedTotal);
    const errors = [...new Set(outcomes.filter((o) => o.error).map((o) => o.error))].slice(0, 5);
    const md = [
      '# Search node drill: kill -9 one node of a replicated cluster',
      '',
      `\`npm run drill:search-node\` — ${new Date().toISOString()}: OpenSearch 2.19, 2 nodes (one JVM each, heap ${args.heap}) started by infra/local/search-nodes.ts on :${plan.nodes.map((n) => n.httpPort).join('/:')}, formed in ${f1(formedS)} s.`,
      `Index \`${index}\` created by ensureInstitutionsIndex with SEARCH_REPLICAS=1: ${layout.number_of_shards} shard(s), ${layout.number_of_replicas} replica(s); ${docs} seeded institutions.`,
      `Load: ${expected.length} queries of bench/search-relevance.json (each with hits before the drill) in turn, open loop at ${args.rate} q/s, through the search port with SEARCH_URLS = both nodes and the query API's client options (1.5 s timeout, maxRetries 0).`,
      `Timeline: ${args.before} s on both nodes; kill -9 of ${killed.name} (${args.kill === 'manager' ? 'the elected cluster manager' : 'not the cluster manager'}); ${args.down} s on one node (the survivor saw ${survivorHealth ? `${survivorHealth.status}, ${survivorHealth.number_of_nodes} node(s)` : 'no cluster manager'}); restart; green again ${f1(greenS)} s later; ${args.after} s more.`,
      '',
      phaseTable(outcomes),
      '',
      'failed: an error (timeout, connection, engine error); empty: no hits; changed: a total other than before the drill.',
      `${cpus().length} cores shared with other work; load average ${loadavg()
        .map((n) => n.toFixed(2))
        .join(' ')} at the end.`,
      '',
      bad.length === 0
        ? '**Result: every query answered, none empty or changed.**'
        : `**Result: ${bad.length} bad answers.** ${errors.length ? `Errors: ${errors.map((e) => `\`${e}\``).join('; ')}` : ''}`,
      '',
    ].join('\n');
    console.log(`\n${md}`);
    mkdirSync(dirname(args.out), { recursive: true });
    writeFileSync(args.out, md);
    return bad.length === 0 ? 0 : 1;
  } finally {
    for (const target of await admin.aliasTargets(alias).catch(() => [])) {
      await admin.deleteIndex(target).catch(() => undefined);
    }
    await Promise.all([admin.close(), search.close()]);
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping the drill's nodes`);
    void stopAll().finally(() => process.exit(130));
  });
}

let code = 1;
try {
  code = await main();
} catch (err) {
  console.error(`drill:search-node: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
} finally {
  await stopAll();
  log(`stopped the drill's nodes (${plan.nodes.flatMap((n) => pidsWithMarker(n.marker)).length} left)`);
}
process.exit(code);
