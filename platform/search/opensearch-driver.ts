import { Client } from '@opensearch-project/opensearch';
import { clientOptions, transportParams, type DriverOptions, type RawTransport } from './raw-transport.ts';

/** OpenSearch 2.x through the official `@opensearch-project/opensearch` client. */
export function openSearchTransport(opts: DriverOptions): RawTransport {
  const client = new Client(clientOptions(opts));
  return {
    kind: 'opensearch',
    async request(req, ignore) {
      const res = await client.transport.request(transportParams(req), ignore ? { ignore } : {});
      return { status: res.statusCode ?? 0, body: res.body };
    },
    close: () => client.close(),
  };
}
