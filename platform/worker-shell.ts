import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from './logger.ts';

export interface WorkerShellOptions {
  logger: Logger;
  registry: Registry;
  /** `/healthz`: 200 with `body` while `ok`, else 503. */
  health: () => Promise<{ ok: boolean; body: Record<string, unknown> }>;
  /** Stops the worker's own parts (consumers, relays, clients); the shell closes its server after. */
  stop: () => Promise<void>;
  /** Past this, shutdown gives up and exits 1. */
  timeoutMs?: number;
}

export interface WorkerShell {
  readonly stopping: boolean;
  /** Serves /healthz and /metrics; port 0 picks one. Resolves with the bound port. */
  listen(port: number, host?: string): Promise<number>;
  /** Stops once (later calls are no-ops), then exits the process with `code`. */
  shutdown(reason: string, code?: number): Promise<void>;
}

const describe = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * The process shell of a background worker (projections, catalog projections): health and
 * metrics over plain node:http, SIGTERM/SIGINT handling, and a bounded graceful shutdown.
 */
export function workerShell(opts: WorkerShellOptions): WorkerShell {
  const { logger, registry } = opts;
  let server: Server | undefined;
  let stopping = false;

  const shell: WorkerShell = {
    get stopping() {
      return stopping;
    },
    async listen(port, host) {
      server = createServer((req, res) => {
        void (async () => {
          if (req.url === '/metrics') {
            res.setHeader('Content-Type', registry.contentType);
            res.end(await registry.metrics());
          } else if (req.url === '/healthz') {
            const { ok, body } = await opts.health();
            const healthy = ok && !stopping;
            res.writeHead(healthy ? 200 : 503, { 'Content-Type': 'application/json' });
            res.end(JSON.stringify({ status: stopping ? 'stopping' : healthy ? 'ok' : 'starting', ...body }));
          } else {
            res.writeHead(404).end();
          }
        })().catch((err: unknown) => {
          res.writeHead(500).end(describe(err));
        });
      });
      const s = server;
      await new Promise<void>((resolve) => s.listen(port, host, resolve));
      return (s.address() as AddressInfo).port;
    },
    async shutdown(reason, code = 0) {
      if (stopping) return;
      stopping = true;
      logger.info({ reason }, 'shutting down');
      const timer = setTimeout(() => {
        logger.error('shutdown took too long: exiting');
        process.exit(1);
      }, opts.timeoutMs ?? 20_000);
      timer.unref();
      try {
        await opts.stop();
        await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      } catch (err) {
        logger.error({ err: describe(err) }, 'error during shutdown');
        code = code || 1;
      }
      logger.info('stopped');
      process.exit(code);
    },
  };
  process.on('SIGTERM', () => void shell.shutdown('SIGTERM'));
  process.on('SIGINT', () => void shell.shutdown('SIGINT'));
  return shell;
}
