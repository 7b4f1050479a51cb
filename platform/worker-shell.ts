/**
 * The shell of a background worker (projections, catalog projections): /healthz, /readyz and
 * /metrics over plain node:http (the health semantics of platform/http/health.ts), and, for the
 * composition root only, SIGTERM/SIGINT handling with a bounded graceful shutdown.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { handleHealth, type HealthOptions } from './http/health.ts';
import type { Logger } from './logger.ts';

export interface WorkerServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

const describe = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Serves /healthz, /readyz and /metrics; port 0 picks one. */
export async function serveWorker(opts: {
  registry: Registry;
  health: HealthOptions;
  port: number;
  host?: string;
}): Promise<WorkerServer> {
  const server: Server = createServer((req, res) => {
    if (handleHealth(req, res, opts.health)) return;
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    opts.registry.metrics().then(
      (text) => {
        res.setHeader('Content-Type', opts.registry.contentType);
        res.end(text);
      },
      (err: unknown) => res.writeHead(500).end(describe(err)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Composition roots only: on SIGTERM/SIGINT (or `shutdown()`), stops once, then exits the
 * process with `code`; past `timeoutMs` it gives up and exits 1.
 */
export function exitOnSignals(opts: { logger: Logger; stop: () => Promise<void>; timeoutMs?: number }): {
  shutdown: (reason: string, code?: number) => Promise<void>;
} {
  let stopping = false;
  const shutdown = async (reason: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    opts.logger.info({ reason }, 'shutting down');
    const timer = setTimeout(() => {
      opts.logger.error('shutdown took too long: exiting');
      process.exit(1);
    }, opts.timeoutMs ?? 20_000);
    timer.unref();
    try {
      await opts.stop();
    } catch (err) {
      opts.logger.error({ err: describe(err) }, 'error during shutdown');
      code = code || 1;
    }
    opts.logger.info('stopped');
    process.exit(code);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  return { shutdown };
}
