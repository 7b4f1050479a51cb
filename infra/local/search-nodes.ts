/**
 * Several OpenSearch nodes forming one cluster, one JVM each (so one can be killed on its own):
 * `npm run engines -- up --search-nodes 2` and the search-node drill (bench/search-ha.ts) start
 * them from here. Each node has its own HTTP and transport port and data directory; they find each
 * other through discovery.seed_hosts (every node's transport port), and node 1 alone bootstraps
 * the cluster (cluster.initial_cluster_manager_nodes), so the nodes may start in any order and
 * node 1 is ready on its own, as the single-node engines expect. ADR 0022.
 */
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { ENGINES_HOME, paths, ports, specs } from './engine-specs.ts';

export interface SearchNodePlan {
  /** 1-based. */
  number: number;
  /** Ours (logs, reports); the runner itself names every node "Node 1". */
  name: string;
  httpPort: number;
  transportPort: number;
  dataDir: string;
  log: string;
  /** On the JVM's command line, so the node is found again without a pid file. */
  marker: string;
}

export interface SearchClusterPlan {
  clusterName: string;
  heap: string;
  nodes: SearchNodePlan[];
}

export interface SearchClusterOptions {
  count: number;
  clusterName: string;
  /** Node n listens on httpPort + n - 1 and transportPort + n - 1. */
  httpPort: number;
  transportPort: number;
  dataDir: (n: number) => string;
  log: (n: number) => string;
  marker: (n: number) => string;
  heap?: string;
}

export function searchClusterPlan(opts: SearchClusterOptions): SearchClusterPlan {
  if (!Number.isInteger(opts.count) || opts.count < 1) throw new Error(`search nodes: ${opts.count}`);
  return {
    clusterName: opts.clusterName,
    heap: opts.heap ?? specs.opensearch.heap,
    nodes: Array.from({ length: opts.count }, (_, i) => ({
      number: i + 1,
      name: `node-${i + 1}`,
      httpPort: opts.httpPort + i,
      transportPort: opts.transportPort + i,
      dataDir: opts.dataDir(i + 1),
      log: opts.log(i + 1),
      marker: opts.marker(i + 1),
    })),
  };
}

/** Pure: a node's opensearch.yml. One node: discovery.type single-node, as before. */
export function searchNodeConfig(plan: SearchClusterPlan, node: SearchNodePlan): string {
  const lines = [
    `# Written by infra/local/search-nodes.ts: node ${node.number} of ${plan.nodes.length}, bound to loopback.`,
    `cluster.name: ${plan.clusterName}`,
    'network.host: 127.0.0.1',
    `http.port: ${node.httpPort}`,
    `transport.port: ${node.transportPort}`,
    'action.destructive_requires_name: false',
    'cluster.routing.allocation.disk.threshold_enabled: false',
  ];
  if (plan.nodes.length === 1) return [...lines, 'discovery.type: single-node', ''].join('\n');
  const seeds = plan.nodes.map((n) => `"127.0.0.1:${n.transportPort}"`).join(', ');
  return [
    ...lines,
    `discovery.seed_hosts: [${seeds}]`,
    // Only node 1 bootstraps: it is ready alone, the others join it (and a data directory made by
    // a single-node cluster keeps its cluster; the new nodes join that one). By address: the
    // runner names every node of its JVM "Node 1", so names cannot tell the nodes apart.
    `cluster.initial_cluster_manager_nodes: ["127.0.0.1:${plan.nodes[0]!.transportPort}"]`,
    '',
  ].join('\n');
}

/** Writes the node's config and returns the java arguments (the codelibs runner, as the engines use). */
export function searchNodeArgs(plan: SearchClusterPlan, node: SearchNodePlan): string[] {
  // The runner reads <basePath>/node_1/config/opensearch.yml and sets http.port = baseHttpPort + 1.
  const conf = join(node.dataDir, 'node_1', 'config');
  mkdirSync(conf, { recursive: true });
  writeFileSync(join(conf, 'opensearch.yml'), searchNodeConfig(plan, node));
  return [
    node.marker,
    ...plan.heap.split(' '),
    '-XX:+UseG1GC',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${paths.template('log4j2.properties')}`,
    '-Dopensearch.engine=runner',
    '-cp',
    `${paths.lib('opensearch')}/*`,
    specs.opensearch.mainClass,
    '-basePath',
    node.dataDir,
    '-numOfNode',
    '1',
    '-baseHttpPort',
    String(node.httpPort - 1),
    '-clusterName',
    plan.clusterName,
  ];
}

/** Starts one node's JVM, detached, output appended to its log; returns the pid. */
export function spawnSearchNode(plan: SearchClusterPlan, node: SearchNodePlan): number {
  const args = searchNodeArgs(plan, node);
  mkdirSync(dirname(node.log), { recursive: true });
  const out = openSync(node.log, 'a');
  const child = spawn('java', args, { detached: true, stdio: ['ignore', out, out], cwd: node.dataDir });
  closeSync(out); // the JVM keeps its own copy of the descriptor
  child.unref();
  if (!child.pid) throw new Error(`could not spawn java for search ${node.name}`);
  return child.pid;
}

/** Live JVMs whose command line carries `marker` exactly (the nodes of a plan, found again). */
export function pidsWithMarker(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmdline[0]?.endsWith('java') && cmdline.includes(marker)) found.push(Number(entry));
    } catch {
      // the process exited while we looked
    }
  }
  return found;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ClusterHealth {
  status: 'green' | 'yellow' | 'red';
  number_of_nodes: number;
  unassigned_shards: number;
}

export async function clusterHealth(httpPort: number): Promise<ClusterHealth | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${httpPort}/_cluster/health`, {
      signal: AbortSignal.timeout(2000),
    });
    return res.ok ? ((await res.json()) as ClusterHealth) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Waits until the node at `httpPort` sees `nodes` nodes and at least `status` (green, or yellow
 * when green is not asked for). Fails early when a pid in `pids` exits.
 */
export async function waitForCluster(
  httpPort: number,
  want: { nodes: number; status: 'green' | 'yellow'; timeoutMs: number; pids?: number[] },
  log: (line: string) => void = () => undefined,
): Promise<ClusterHealth> {
  const started = Date.now();
  let lastNote = started;
  for (;;) {
    const health = await clusterHealth(httpPort);
    const statusOk =
      health && (health.status === 'green' || (want.status === 'yellow' && health.status === 'yellow'));
    if (health && statusOk && health.number_of_nodes >= want.nodes) return health;
    const dead = want.pids?.find((pid) => !existsSync(`/proc/${pid}`));
    if (dead) throw new Error(`search node pid ${dead} exited during start-up`);
    if (Date.now() - started > want.timeoutMs) {
      throw new Error(
        `search cluster at :${httpPort} not ${want.status} with ${want.nodes} nodes after ${want.timeoutMs / 1000}s (${JSON.stringify(health)})`,
      );
    }
    if (Date.now() - lastNote > 10_000) {
      lastNote = Date.now();
      log(
        `  search :${httpPort}: ${health ? `${health.status}, ${health.number_of_nodes} nodes` : 'starting'}… ${Math.round((Date.now() - started) / 1000)}s`,
      );
    }
    await sleep(500);
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when every pid is gone. */
export async function stopPids(pids: number[], graceMs = 20_000): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + graceMs;
  while (pids.some((pid) => existsSync(`/proc/${pid}`)) && Date.now() < deadline) await sleep(200);
  for (const pid of pids.filter((p) => existsSync(`/proc/${p}`))) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // exited between the check and the kill
    }
  }
  while (pids.some((pid) => existsSync(`/proc/${pid}`))) await sleep(100);
}

/**
 * The local engines' search cluster (`npm run engines -- up --search-nodes N`): node 1 is the
 * `opensearch` engine as before (:9200/:9300, its data directory and log), node n listens on
 * :9200+n-1 / :9300+n-1 with data/opensearch-n and logs/opensearch-n.log.
 */
export function localSearchPlan(count: number): SearchClusterPlan {
  return searchClusterPlan({
    count,
    clusterName: 'booking-local',
    httpPort: ports.opensearch,
    transportPort: ports.opensearchTransport,
    dataDir: (n) => (n === 1 ? paths.data('opensearch') : join(ENGINES_HOME, 'data', `opensearch-${n}`)),
    log: (n) => (n === 1 ? paths.log('opensearch') : join(ENGINES_HOME, 'logs', `opensearch-${n}.log`)),
    marker: (n) => `-Dbooking.engine=${n === 1 ? 'opensearch' : `opensearch-${n}`}`,
  });
}

/** SEARCH_NODES or `--search-nodes`: how many search nodes the engines run (default 1). */
export function searchNodeCount(flag: string | undefined, env = process.env.SEARCH_NODES): number {
  const raw = flag ?? env ?? '1';
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 9)
    throw new Error(`--search-nodes / SEARCH_NODES: 1-9, not ${raw}`);
  return n;
}

/** Starts nodes 2..N of the local cluster that are not running and waits for all N, green. */
export async function startExtraSearchNodes(count: number, log: (line: string) => void): Promise<void> {
  if (count < 2) return;
  const plan = localSearchPlan(count);
  const pids: number[] = [];
  for (const node of plan.nodes.slice(1)) {
    const running = pidsWithMarker(node.marker);
    if (running.length > 0) {
      pids.push(...running);
      continue;
    }
    const pid = spawnSearchNode(plan, node);
    pids.push(pid);
    log(
      `opensearch ${node.name}: started pid ${pid} (:${node.httpPort}, transport :${node.transportPort}), log ${node.log}`,
    );
  }
  const t0 = Date.now();
  await waitForCluster(ports.opensearch, { nodes: count, status: 'green', timeoutMs: 300_000, pids }, log);
  log(`✔ OpenSearch cluster of ${count} nodes green in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
}

/** Stops nodes 2..N of the local cluster (whatever N was), for `npm run engines -- down`. */
export async function stopExtraSearchNodes(log: (line: string) => void, graceMs: number): Promise<void> {
  const pids = localSearchPlan(9)
    .nodes.slice(1)
    .flatMap((node) => pidsWithMarker(node.marker));
  if (pids.length === 0) return;
  log(`opensearch: stopping extra nodes, pids ${pids.join(', ')}…`);
  await stopPids(pids, graceMs);
}
