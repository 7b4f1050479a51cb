import type { BulkOperation, BulkResult } from './search-engine.ts';

/**
 * The NDJSON body of a bulk request, identical for Elasticsearch 8 and OpenSearch 2, built as one
 * string: the clients send a string as it is, where an array of action/source objects costs an
 * object per line here and a serialisation call per line in the client (thousands per projector
 * chunk).
 */
export function toBulkBody(operations: readonly BulkOperation[]): string {
  let body = '';
  for (const op of operations) {
    const version = op.version === undefined ? '' : `,"version":${op.version},"version_type":"external"`;
    const meta = `{"_index":${JSON.stringify(op.index)},"_id":${JSON.stringify(op.id)}${version}}`;
    if (op.action === 'index') body += `{"index":${meta}}\n${JSON.stringify(op.document)}\n`;
    else body += `{"delete":${meta}}\n`;
  }
  return body;
}

/**
 * `filter_path` of a bulk request: what summariseBulk reads of each item. The engine leaves the
 * rest of the item out of its answer (index, version, shards, sequence numbers): about a
 * fourteenth of the bytes to write and to parse for a chunk of thousands.
 */
export const BULK_FILTER_PATH = 'items.*._id,items.*.status,items.*.error.type,items.*.error.reason';

interface BulkItem {
  _id?: string | null;
  status: number;
  error?: { type?: string; reason?: string | null } | null;
}

/** A 409 under external versioning means "already applied": success for an idempotent writer. */
export function summariseBulk(items: Record<string, BulkItem | undefined>[]): BulkResult {
  const result: BulkResult = { applied: 0, stale: 0, failures: [] };
  for (const entry of items) {
    const item = Object.values(entry)[0];
    if (!item) continue;
    if (item.status === 409) result.stale += 1;
    else if (item.status === 404 && !item.error)
      result.applied += 1; // delete of a missing doc
    else if (item.status >= 300) {
      result.failures.push({
        id: item._id ?? '',
        status: item.status,
        reason: `${item.error?.type ?? 'error'}: ${item.error?.reason ?? ''}`,
      });
    } else result.applied += 1;
  }
  return result;
}
