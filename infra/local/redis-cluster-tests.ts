/**
 * `npm run test:redis-cluster`: the read-model and query tests against a real three-master Redis
 * Cluster (docs/adr/0020). Starts the cluster (infra/local/redis-cluster.ts) with a fresh data
 * directory, runs each test file on its own with REDIS_CLUSTER_NODES set (every createRedis client
 * of the tests and of the services they start is then a cluster client), stops the cluster and
 * writes the summary to bench/results/redis-cluster.md.
 *
 * Integration tests share the engines: run it as `flock /tmp/int-tests.lock npm run test:redis-cluster`.
 * Files can be named on the command line instead of the default list.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterDown, clusterLayout, clusterUp } from './redis-cluster.ts';

/** The tests whose every Redis client comes from createRedis (a private Redis stays single). */
export const CLUSTER_TEST_FILES = [
  'tests/int/redis-read-model.int.spec.ts',
  'tests/int/redis-writer-batch.int.spec.ts',
  'tests/int/catalog-writers.int.spec.ts',
  'tests/int/projections-rebuild.int.spec.ts',
  'tests/int/slots-read.int.spec.ts',
  'tests/int/query-api.int.spec.ts',
  'tests/int/query-cache.int.spec.ts',
  'tests/int/read-your-writes.e2e.spec.ts',
];

interface FileResult {
  file: string;
  passed: number;
  failed: number;
  skipped: number;
  seconds: number;
  exitCode: number;
  failures: string[];
}

interface VitestJson {
  testResults?: { assertionResults?: { status: string; fullName: string; failureMessages?: string[] }[] }[];
}

async function runFile(file: string, nodes: string, work: string): Promise<FileResult> {
  const out = join(work, 'result.json');
  rmSync(out, { force: true });
  const started = Date.now();
  const exitCode = await new Promise<number>((resolve) => {
    const child = spawn(
      'npx',
      [
        'vitest',
        'run',
        '--project',
        'int',
        file,
        '--reporter=default',
        '--reporter=json',
        `--outputFile.json=${out}`,
      ],
      { stdio: 'inherit', env: { ...process.env, REDIS_CLUSTER_NODES: nodes } },
    );
    child.once('exit', (code) => resolve(code ?? 1));
  });
  const seconds = (Date.now() - started) / 1000;
  let json: VitestJson = {};
  try {
    json = JSON.parse(readFileSync(out, 'utf8')) as VitestJson;
  } catch {
    // no report: the run failed before any test (counted as a failure below)
  }
  const tests = (json.testResults ?? []).flatMap((r) => r.assertionResults ?? []);
  const failed = tests.filter((t) => t.status === 'failed');
  return {
    file,
    passed: tests.filter((t) => t.status === 'passed').length,
    failed: failed.length + (tests.length === 0 || (exitCode !== 0 && failed.length === 0) ? 1 : 0),
    skipped: tests.filter((t) => t.status === 'skipped' || t.status === 'pending' || t.status === 'todo')
      .length,
    seconds,
    exitCode,
    failures: failed.map((t) => `${t.fullName}: ${(t.failureMessages?.[0] ?? '').split('\n')[0]}`),
  };
}

function summary(results: FileResult[], nodes: string, version: string): string {
  const total = (k: 'passed' | 'failed' | 'skipped') => results.reduce((n, r) => n + r[k], 0);
  const lines = [
    '# Redis Cluster run',
    '',
    `Written by \`npm run test:redis-cluster\` (infra/local/redis-cluster-tests.ts) on ${new Date().toISOString()}.`,
    `Cluster: 3 masters, no replicas, \`REDIS_CLUSTER_NODES=${nodes}\`, ${version}. Each file ran alone`,
    '(`npx vitest run --project int <file>`); the other engines were the shared single-node ones.',
    '',
    '| file | passed | failed | skipped | seconds | exit |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...results.map(
      (r) =>
        `| ${r.file} | ${r.passed} | ${r.failed} | ${r.skipped} | ${r.seconds.toFixed(1)} | ${r.exitCode} |`,
    ),
    `| **total** | **${total('passed')}** | **${total('failed')}** | **${total('skipped')}** | ${results
      .reduce((n, r) => n + r.seconds, 0)
      .toFixed(1)} | |`,
    '',
  ];
  const failures = results.flatMap((r) => r.failures.map((f) => `- ${r.file}: ${f}`));
  if (failures.length) lines.push('## Failures', '', ...failures, '');
  return lines.join('\n');
}

async function main(files: string[]): Promise<number> {
  const work = mkdtempSync(join(tmpdir(), 'redis-cluster-tests-'));
  // A fresh cluster of this run's own: nothing left from an earlier one, removed at the end.
  const layout = clusterLayout({ ...process.env, REDIS_CLUSTER_DIR: join(work, 'cluster') });
  const results: FileResult[] = [];
  try {
    await clusterUp(layout);
    const version = await new Promise<string>((resolve) => {
      const child = spawn('redis-server', ['--version']);
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      child.once('exit', () => resolve(text.trim().split(' ').slice(0, 3).join(' ')));
    });
    for (const file of files) results.push(await runFile(file, layout.nodes, work));
    const text = summary(results, layout.nodes, version);
    writeFileSync('bench/results/redis-cluster.md', text);
    console.log(`\n${text}`);
  } finally {
    await clusterDown(layout);
    rmSync(work, { recursive: true, force: true });
  }
  return results.every((r) => r.failed === 0 && r.exitCode === 0) ? 0 : 1;
}

main(process.argv.slice(2).length ? process.argv.slice(2) : CLUSTER_TEST_FILES).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`test:redis-cluster: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
