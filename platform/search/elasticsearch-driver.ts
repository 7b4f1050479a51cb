import { Client } from '@elastic/elasticsearch';
import type { DriverOptions, RawTransport } from './raw-transport.ts';

/**
 * Elasticsearch 8.x through `@elastic/elasticsearch` 8 (a v9 client sends compatible-with=9,
 * which an 8.x server rejects). The client refuses a server that is not Elasticsearch.
 */
export function elasticsearchTransport(opts: DriverOptions): RawTransport {
  const client = new Client({
    node: opts.url,
    requestTimeout: opts.requestTimeoutMs ?? 10_000,
    maxRetries: opts.maxRetries ?? 2,
  });
  return {
    kind: 'elasticsearch',
    async request(req, ignore) {
      const res = await client.transport.request(
        {
          method: req.method,
          path: req.path,
          ...(req.querystring ? { querystring: req.querystring } : {}),
          ...(req.body !== undefined ? { body: req.body as Record<string, unknown> } : {}),
          ...(req.bulkBody ? { bulkBody: req.bulkBody } : {}),
        },
        { meta: true, ...(ignore ? { ignore } : {}) },
      );
      return { status: res.statusCode ?? 0, body: res.body };
    },
    close: () => client.close(),
  };
}
