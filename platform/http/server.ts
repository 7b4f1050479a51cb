import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { toProblem, AppError, type ErrorCode } from './errors.ts';
import { problemBaseFromEnv } from './problem-base.ts';

/** The HTTP/1.1 response the parser-level problem is sent as (the request never reached Express). */
export function clientErrorResponse(code: ErrorCode, problemBase?: string): string {
  const problem = toProblem(new AppError(code), undefined, undefined, problemBase);
  const body = JSON.stringify(problem);
  const reason = code === 'request_header_too_large' ? 'Request Header Fields Too Large' : 'Bad Request';
  return (
    `HTTP/1.1 ${problem.status} ${reason}\r\n` +
    'Content-Type: application/problem+json\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Connection: close\r\n\r\n' +
    body
  );
}

/**
 * Node answers requests its parser refuses (a URL or headers over 16 KiB: 431; not HTTP: 400) with
 * an empty body; this answers them as problem+json, like every other error of the platform.
 */
export function answerClientErrors(server: Server, problemBase?: string): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // A reset or half-closed connection, or one whose response already started: nothing to tell.
    const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      socket.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n'); // what Node sends
      return;
    }
    const code: ErrorCode = err.code === 'HPE_HEADER_OVERFLOW' ? 'request_header_too_large' : 'bad_request';
    socket.end(clientErrorResponse(code, problemBase));
  });
}

/** Starts listening; resolves once bound (port 0 picks a free port — read it from `server.address()`). */
export async function listen(handler: RequestListener, port: number, host?: string): Promise<Server> {
  const server = createServer(handler);
  answerClientErrors(server, problemBaseFromEnv());
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
