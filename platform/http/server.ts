import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { toProblem, AppError, type ErrorCode } from './errors.ts';
import type { Config } from '../config.ts';
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

/** Connection hygiene of a public listener (HTTP_* settings of platform/config.ts). */
export interface ConnectionLimits {
  /** Open connections at once; the kernel still accepts more, Node closes them at once. */
  maxConnections: number;
  /**
   * Connections the kernel completes and holds until the loop accepts them (listen(2)'s backlog,
   * capped by net.core.somaxconn). When it is full the kernel drops new SYNs and each client waits
   * for its retransmit, 1 s then 3 s: a busy loop's queue of new connections must fit here.
   */
  listenBacklog: number;
  /** Request line and headers must arrive within this (a slowloris is cut, an idle new connection closed). */
  headersTimeoutMs: number;
  /** The whole request, body included. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this (Node 20.20 adds a 1 s grace past the advertised value). */
  keepAliveTimeoutMs: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxConnections: 1024,
  listenBacklog: 4096,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
};

export const connectionLimitsOf = (
  config: Partial<
    Pick<
      Config,
      | 'HTTP_MAX_CONNECTIONS'
      | 'HTTP_LISTEN_BACKLOG'
      | 'HTTP_HEADERS_TIMEOUT_MS'
      | 'HTTP_REQUEST_TIMEOUT_MS'
      | 'HTTP_KEEP_ALIVE_TIMEOUT_MS'
    >
  >,
): ConnectionLimits => ({
  maxConnections: config.HTTP_MAX_CONNECTIONS ?? DEFAULT_CONNECTION_LIMITS.maxConnections,
  listenBacklog: config.HTTP_LISTEN_BACKLOG ?? DEFAULT_CONNECTION_LIMITS.listenBacklog,
  headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS ?? DEFAULT_CONNECTION_LIMITS.headersTimeoutMs,
  requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS ?? DEFAULT_CONNECTION_LIMITS.requestTimeoutMs,
  keepAliveTimeoutMs: config.HTTP_KEEP_ALIVE_TIMEOUT_MS ?? DEFAULT_CONNECTION_LIMITS.keepAliveTimeoutMs,
});

/**
 * Starts listening; resolves once bound (port 0 picks a free port — read it from `server.address()`).
 * `limits` cap the connections and bound how long a client may take: Node checks the header and
 * request deadlines every `connectionsCheckingInterval` (30 s by default, which would let a
 * slowloris hold its socket for 40 s); here a quarter of the header timeout, at most a second.
 */
export async function listen(
  handler: RequestListener,
  port: number,
  host?: string,
  limits: ConnectionLimits = DEFAULT_CONNECTION_LIMITS,
): Promise<Server> {
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
    },
    handler,
  );
  answerClientErrors(server, problemBaseFromEnv());
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxConnections = limits.maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, backlog: limits.listenBacklog }, () => {
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
