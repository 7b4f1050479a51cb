/**
 * The server of a background worker (projections, catalog projections): /healthz, /readyz and
 * /metrics over plain node:http, with the health semantics of platform/http/health.ts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { handleHealth, type HealthOptions } from './http/health.ts';

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
