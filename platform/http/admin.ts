/**
 * The admin listener every process has besides its public port: /metrics and the detailed
 * /healthz and /readyz (dependency checks and the process's details: lag, components, stores).
 * It listens on HOST (127.0.0.1 by default) at ADMIN_PORT, by default the public port + 1000,
 * so operators and Prometheus reach it and the public internet does not; the public port answers
 * /healthz and /readyz with their status code, status and reasons only.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { healthResponseFor, sendHealth, type HealthOptions } from './health.ts';
import { answerClientErrors } from './server.ts';

/** Offset of each process's admin port from its public port (3001 → 4001). */
export const ADMIN_PORT_OFFSET = 1000;

/** The admin port: explicit, else the public port + 1000 (a free one when the public port is picked, 0). */
export const defaultAdminPort = (publicPort: number, explicit?: number): number =>
  explicit ?? (publicPort === 0 ? 0 : publicPort + ADMIN_PORT_OFFSET);

const describe = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Serves /metrics and the detailed health; 404 for anything else. */
export function adminHandler(opts: { registry: Registry; health: HealthOptions }): RequestListener {
  return (req, res) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const health = healthResponseFor(path, opts.health, { detailed: true });
    if (health) {
      health.then(
        (a) => sendHealth(res, a),
        (err: unknown) =>
          sendHealth(res, { statusCode: 503, body: { status: 'failing', reasons: [describe(err)] } }),
      );
      return;
    }
    if (path !== '/metrics') {
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
  };
}

export interface AdminServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/** Listens with a handler on host:port (0 picks a port). */
export async function serveHandler(
  handler: RequestListener,
  port: number,
  host: string,
): Promise<AdminServer> {
  const server: Server = createServer(handler);
  answerClientErrors(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    port: bound,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The admin listener of a process. */
export const serveAdmin = (opts: {
  registry: Registry;
  health: HealthOptions;
  port: number;
  host: string;
}): Promise<AdminServer> => serveHandler(adminHandler(opts), opts.port, opts.host);
