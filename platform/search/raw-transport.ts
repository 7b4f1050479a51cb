import type { SearchKind } from './search-engine.ts';

export interface RawRequest {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'HEAD';
  path: string;
  querystring?: Record<string, string>;
  body?: unknown;
  /** NDJSON for _bulk: its lines as objects, or the whole body as one string (sent as it is). */
  bulkBody?: Record<string, unknown>[] | string;
}

export interface RawResponse {
  status: number;
  body: unknown;
}

/**
 * The only thing that differs between Elasticsearch 8 and OpenSearch 2 for us: how the official
 * client sends a request (product check, compatibility headers, response shape). Everything
 * above it — index definitions, queries, bulk, aliases — is written once in search-engine-impl.
 */
export interface RawTransport {
  readonly kind: SearchKind;
  request(req: RawRequest, ignore?: number[]): Promise<RawResponse>;
  close(): Promise<void>;
}

export interface DriverOptions {
  /**
   * One node, or several nodes of one cluster: the client spreads requests over them and skips
   * one it cannot reach (platform/search/node-failover.ts).
   */
  url: string | readonly string[];
  requestTimeoutMs?: number;
  maxRetries?: number;
}

/** The request as both official clients' `transport.request` take it (absent fields left out). */
export const transportParams = (req: RawRequest) => ({
  method: req.method,
  path: req.path,
  ...(req.querystring ? { querystring: req.querystring } : {}),
  ...(req.body !== undefined ? { body: req.body as Record<string, unknown> } : {}),
  ...(req.bulkBody ? { bulkBody: req.bulkBody } : {}),
});

/** Client settings both drivers share. */
export const clientOptions = (opts: DriverOptions) => ({
  node: typeof opts.url === 'string' ? opts.url : [...opts.url],
  requestTimeout: opts.requestTimeoutMs ?? 10_000,
  maxRetries: opts.maxRetries ?? 2,
});
