/** A small keep-alive HTTP client over node:http for tests against a real listening server. */
import { Agent, request as httpRequest } from 'node:http';

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** Parsed JSON body (undefined when the body is not JSON); loosely typed for assertions. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

export interface RequestOptions {
  body?: unknown;
  /** Sent verbatim instead of JSON-encoding `body`. */
  rawBody?: string | Buffer;
  headers?: Record<string, string | undefined>;
  token?: string;
  idempotencyKey?: string;
  agent?: Agent;
  timeoutMs?: number;
}

/**
 * `timeout` makes the agent honour the server's `Keep-Alive: timeout=5` hint: an idle socket is
 * closed a second before the server would close it. Without it an idle socket is reused forever,
 * and a request sent on one just as the server closes it fails with "socket hang up" (a CI run's
 * booking-contention, whose second test reused the sockets the first had left idle for 5 s).
 */
export function createAgent(maxSockets = 50): Agent {
  return new Agent({ keepAlive: true, maxSockets, timeout: 60_000 });
}

export class HttpClient {
  constructor(
    readonly baseUrl: string,
    readonly agent: Agent = createAgent(),
  ) {}

  request(method: string, path: string, opts: RequestOptions = {}): Promise<HttpResponse> {
    const url = new URL(path, this.baseUrl);
    const payload =
      opts.rawBody ?? (opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body), 'utf8'));
    const headers: Record<string, string> = {};
    if (opts.body !== undefined && opts.rawBody === undefined) headers['content-type'] = 'application/json';
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
    for (const [k, v] of Object.entries(opts.headers ?? {})) {
      if (v === undefined) delete headers[k.toLowerCase()];
      else headers[k.toLowerCase()] = v;
    }
    if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload));
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        url,
        { method, headers, agent: opts.agent ?? this.agent, timeout: opts.timeoutMs ?? 30_000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let body: unknown;
            try {
              body = text ? JSON.parse(text) : undefined;
            } catch {
              body = undefined;
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`request timed out: ${method} ${path}`)));
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  post(path: string, opts: RequestOptions = {}): Promise<HttpResponse> {
    return this.request('POST', path, opts);
  }

  get(path: string, opts: RequestOptions = {}): Promise<HttpResponse> {
    return this.request('GET', path, opts);
  }

  close(): void {
    this.agent.destroy();
  }
}
