import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

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
