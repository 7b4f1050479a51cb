import { Client } from '@opensearch-project/opensearch';
import type { DriverOptions, RawTransport } from './raw-transport.ts';

/** OpenSearch 2.x through the official `@opensearch-project/opensearch` client. */
export function openSearchTransport(opts: DriverOptions): RawTransport {
  const client = new Client({
    node: opts.url,
    requestTimeout: opts.requestTimeoutMs ?? 10_000,
    maxRetries: opts.maxRetries ?? 2,
  });
  return {
    kind: 'opensearch',
    async request(req, ignore) {
      const res = await client.transport.request(
        {
          method: req.method,
          path: req.path,
          ...(req.querystring ? { querystring: req.querystring } : {}),
          ...(req.body !== undefined ? { body: req.body as Record<string, unknown> } : {}),
          ...(req.bulkBody ? { bulkBody: req.bulkBody } : {}),
        },
        ignore ? { ignore } : {},
      );
      return { status: res.statusCode ?? 0, body: res.body };
    },
    close: () => client.close(),
  };
}
