import type { BulkOperation, BulkResult } from './search-engine.ts';

/** NDJSON action/source pairs, identical for Elasticsearch 8 and OpenSearch 2. */
export function toBulkBody(operations: BulkOperation[]): Record<string, unknown>[] {
  const body: Record<string, unknown>[] = [];
  for (const op of operations) {
    const meta: Record<string, unknown> = { _index: op.index, _id: op.id };
    if (op.version !== undefined) {
      meta.version = op.version;
      meta.version_type = 'external';
    }
    if (op.action === 'index') body.push({ index: meta }, op.document);
    else body.push({ delete: meta });
  }
  return body;
}

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
