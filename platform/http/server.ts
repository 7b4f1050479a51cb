import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';

/** Starts listening; resolves once bound (port 0 picks a free port — read it from `server.address()`). */
export async function listen(handler: RequestListener, port: number, host?: string): Promise<Server> {
  const server = createServer(handler);
  // Longer than typical load-balancer idle timeouts, so the LB closes idle connections first.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

export const boundPort = (server: Server): number => (server.address() as AddressInfo).port;

/**
 * Stops accepting connections, lets in-flight requests finish (idle keep-alive connections are
 * closed at once), and forcibly closes whatever is left after `timeoutMs`.
 */
export async function drain(server: Server, timeoutMs = 10_000): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const idleSweep = setInterval(() => server.closeIdleConnections(), 100);
  const deadline = setTimeout(() => server.closeAllConnections(), timeoutMs);
  try {
    await closed;
  } finally {
    clearInterval(idleSweep);
    clearTimeout(deadline);
  }
}

/**
 * On SIGTERM/SIGINT: `beforeDrain` (e.g. fail readiness), drain in-flight requests, then
 * `afterDrain` (e.g. end the database pool). A second signal exits immediately.
 */
export function onShutdownSignal(
  server: Server,
  opts: { logger: Logger; timeoutMs?: number; beforeDrain?: () => void; afterDrain?: () => Promise<void> },
): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      opts.logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    opts.logger.info({ signal }, 'shutting down: draining in-flight requests');
    opts.beforeDrain?.();
    drain(server, opts.timeoutMs)
      .then(() => opts.afterDrain?.())
      .then(() => {
        opts.logger.info('shutdown complete');
        process.exitCode = 0;
      })
      .catch((err: unknown) => {
        opts.logger.error({ err }, 'shutdown failed');
        process.exitCode = 1;
      });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
