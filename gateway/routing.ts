/**
 * Which API answers a /v1 request. Writes go to the command API; reads to the query API, except
 * the few reads the command API owns because they sit next to its writes (the rush request's
 * outcome, the audit log, the flow-control admin). Kept as a table so a new command-side read is
 * one line here (compare the route lists of command-api/route-specs.ts and query-api/route-specs.ts).
 */
export type Upstream = 'command' | 'query';

/** GET paths (prefixes) the command API serves. */
export const COMMAND_SIDE_READS: readonly string[] = ['/v1/booking-requests/', '/v1/audit', '/v1/admin/'];

export function upstreamFor(method: string, path: string): Upstream {
  const read = method === 'GET' || method === 'HEAD';
  if (!read) return 'command';
  return COMMAND_SIDE_READS.some((prefix) => path === prefix || path.startsWith(prefix))
    ? 'command'
    : 'query';
}
