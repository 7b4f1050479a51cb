import { Client } from '@elastic/elasticsearch';
import { clientOptions, transportParams, type DriverOptions, type RawTransport } from './raw-transport.ts';

/**
 * Elasticsearch 8.x through `@elastic/elasticsearch` 8 (a v9 client sends compatible-with=9,
 * which an 8.x server rejects). The client refuses a server that is not Elasticsearch.
 */
export function elasticsearchTransport(opts: DriverOptions): RawTransport {
  const client = new Client(clientOptions(opts));
  return {
    kind: 'elasticsearch',
    async request(req, ignore) {
      const res = await client.transport.request(transportParams(req), {
        meta: true,
        ...(ignore ? { ignore } : {}),
      });
      return { status: res.statusCode ?? 0, body: res.body };
    },
    close: () => client.close(),
  };
}
