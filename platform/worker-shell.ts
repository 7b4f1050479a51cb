/**
 * The servers of a background worker (projections, catalog projections) over plain node:http, with
 * the health semantics of platform/http/health.ts: the public port answers /healthz and /readyz
 * (status and reasons), the admin port (platform/http/admin.ts) /metrics and the detailed health.
 */
import type { Registry } from 'prom-client';
import { defaultAdminPort, serveAdmin, serveHandler } from './http/admin.ts';
import { handleHealth, type HealthOptions } from './http/health.ts';

export interface WorkerServer {
  readonly port: number;
  readonly url: string;
  /** Where /metrics and the detailed health answer. */
  readonly adminPort: number;
  readonly adminUrl: string;
  close(): Promise<void>;
}

/** Serves the public health on `port` and the admin listener on `adminPort` (default port + 1000); 0 picks one. */
export async function serveWorker(opts: {
  registry: Registry;
  health: HealthOptions;
  port: number;
  adminPort?: number;
  host?: string;
}): Promise<WorkerServer> {
  const host = opts.host ?? '127.0.0.1';
  const server = await serveHandler(
    (req, res) => {
      if (!handleHealth(req, res, opts.health)) res.writeHead(404).end();
    },
    opts.port,
    host,
  );
  const admin = await serveAdmin({
    registry: opts.registry,
    health: opts.health,
    port: defaultAdminPort(opts.port, opts.adminPort),
    host,
  }).catch(async (err: unknown) => {
    await server.close();
    throw err;
  });
  return {
    port: server.port,
    url: server.url,
    adminPort: admin.port,
    adminUrl: admin.url,
    close: async () => {
      await Promise.all([server.close(), admin.close()]);
    },
  };
}
