/**
 * Several nodes of one search cluster behind one transport. Both official clients take a list of
 * nodes, mark a node dead when a connection to it fails and send the next request elsewhere
 * (and ping it back to life later); they retry the failed request on another node only while
 * `maxRetries` allows, and the query API runs with `maxRetries: 0` so a slow engine costs one
 * timeout, not three. A refused or reset connection is not slow, though: it means the node is
 * gone, and the request never ran there. So a request that could not reach its node goes to the
 * next one here, once per other node, whatever `maxRetries` says; a timeout is not retried.
 * A read that a node answers 502/503/504 (e.g. a node restarting, its cluster state not yet
 * recovered, or the shard copies it can reach all failed) goes to the next node as well: the
 * clients have marked that node dead, and a read is safe to send twice. Writes are not resent here.
 */
import type { RawRequest, RawTransport } from './raw-transport.ts';

/** The clients' names for "the request did not reach a node" (not a timeout, not an answer). */
const UNREACHABLE = new Set(['ConnectionError', 'NoLivingConnectionsError']);

export const unreachable = (err: unknown): boolean =>
  UNREACHABLE.has((err as { name?: string } | null)?.name ?? '');

const isRead = (req: RawRequest): boolean =>
  req.method === 'GET' || req.method === 'HEAD' || /\/_(search|count)$/.test(req.path);

const nodeUnavailable = (err: unknown): boolean => {
  const status = (err as { meta?: { statusCode?: number } } | null)?.meta?.statusCode;
  return status === 502 || status === 503 || status === 504;
};

/** Whether a failed request may go to the next node. */
export const worthAnotherNode = (req: RawRequest, err: unknown): boolean =>
  unreachable(err) || (isRead(req) && nodeUnavailable(err));

export function withNodeFailover(transport: RawTransport, nodeCount: number): RawTransport {
  if (nodeCount < 2) return transport;
  return {
    kind: transport.kind,
    async request(req, ignore) {
      for (let attempt = 1; ; attempt++) {
        try {
          return await transport.request(req, ignore);
        } catch (err) {
          if (!worthAnotherNode(req, err) || attempt >= nodeCount) throw err;
        }
      }
    },
    close: () => transport.close(),
  };
}
