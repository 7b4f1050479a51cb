import type { SearchKind } from './search-engine.ts';

export interface RawRequest {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'HEAD';
  path: string;
  querystring?: Record<string, string>;
  body?: unknown;
  /** NDJSON lines for _bulk. */
  bulkBody?: Record<string, unknown>[];
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
  url: string;
  requestTimeoutMs?: number;
  maxRetries?: number;
}
