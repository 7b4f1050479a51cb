/**
 * A platform entry run as a child process with the telemetry preload (as `npm start` runs it),
 * exporting to the local Zipkin, and Zipkin's API to read what it exported. For the tracing tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { ports } from '../../infra/local/engine-specs.ts';
import { waitFor } from './wait.ts';

export interface ZipkinSpan {
  traceId: string;
  id: string;
  parentId?: string;
  name?: string;
  kind?: 'SERVER' | 'CLIENT' | 'PRODUCER' | 'CONSUMER';
  localEndpoint?: { serviceName?: string };
  tags?: Record<string, string>;
}

export const ZIPKIN = `http://127.0.0.1:${ports.zipkin}`;

export interface TracedService {
  process: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
  readyLine: Record<string, unknown>;
}

/** Throws at once, with what to do, when no Zipkin answers. */
export async function requireZipkin(): Promise<void> {
  const health = await fetch(`${ZIPKIN}/health`).catch(() => undefined);
  if (!health?.ok) throw new Error(`Zipkin is not running at ${ZIPKIN}: npm run engines -- up`);
}

/** Starts an entry under tsx with the telemetry preload; resolves with the first log line matching `ready`. */
export async function spawnTraced(
  entry: string,
  env: Record<string, string>,
  ready: (line: Record<string, unknown>) => boolean,
): Promise<TracedService> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--import', './platform/telemetry-register.ts', entry],
    {
      env: {
        ...process.env,
        LOG_LEVEL: 'info',
        LOG_FORMAT: 'json',
        OTEL_SDK_DISABLED: 'false',
        OTEL_TRACES_EXPORTER: 'zipkin',
        OTEL_EXPORTER_ZIPKIN_ENDPOINT: `${ZIPKIN}/api/v2/spans`,
        OTEL_BSP_SCHEDULE_DELAY: '200',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let found: Record<string, unknown> | undefined;
  const onData = (d: Buffer) => {
    out += d.toString();
    if (found) return;
    for (const text of out.split('\n')) {
      try {
        const line = JSON.parse(text) as Record<string, unknown>;
        if (ready(line)) found = line;
      } catch {
        // not a JSON line
      }
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  try {
    const readyLine = await waitFor(
      () => ((found ?? child.exitCode !== null) ? (found ?? { exited: child.exitCode }) : undefined),
      { what: `${entry} ready`, timeoutMs: 60_000 },
    );
    if ('exited' in readyLine) throw new Error(`exited with ${String(readyLine.exited)}`);
    return { process: child, output: () => out, stop, readyLine };
  } catch (err) {
    await stop();
    throw new Error(`${entry} did not start:\n${out.slice(-3000)}`, { cause: err });
  }
}

export const traceOf = async (traceId: string): Promise<ZipkinSpan[]> => {
  const res = await fetch(`${ZIPKIN}/api/v2/trace/${traceId}`);
  return res.ok ? ((await res.json()) as ZipkinSpan[]) : [];
};

/** Traces of a service holding a span of that name (Zipkin lower-cases span names). */
export async function tracesWithSpan(serviceName: string, spanName: string): Promise<ZipkinSpan[][]> {
  const query = new URLSearchParams({ serviceName, spanName: spanName.toLowerCase(), limit: '50' });
  const res = await fetch(`${ZIPKIN}/api/v2/traces?${query.toString()}`);
  return res.ok ? ((await res.json()) as ZipkinSpan[][]) : [];
}

export const serviceOf = (s: ZipkinSpan) => s.localEndpoint?.serviceName ?? '';
export const spanName = (s: ZipkinSpan) => (s.name ?? '').toLowerCase();
export const isRedisSpan = (s: ZipkinSpan) =>
  s.tags?.['db.system'] === 'redis' || s.tags?.['db.system.name'] === 'redis';
export const isPgSpan = (s: ZipkinSpan) =>
  s.tags?.['db.system'] === 'postgresql' || s.tags?.['db.system.name'] === 'postgresql';

/** Spans below `root` (children, grandchildren, …). */
export function descendants(spans: ZipkinSpan[], root: ZipkinSpan): ZipkinSpan[] {
  const below: ZipkinSpan[] = [];
  let frontier = [root.id];
  while (frontier.length) {
    const next = spans.filter((s) => s.parentId !== undefined && frontier.includes(s.parentId));
    below.push(...next);
    frontier = next.map((s) => s.id);
  }
  return below;
}
