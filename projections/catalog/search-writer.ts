/**
 * Thin search writer for institution change events: one bulk request per batch, every operation
 * with external versioning and version = the change's LSN, so the engine applies a write only if
 * it is newer than what it holds (a replay is a harmless 409, counted as stale). Each document
 * carries its Chinese search fields (pinyin, initials, folded names: search_cn), computed here.
 */
import type { BulkOperation, SearchEngine } from '../../platform/search/index.ts';
import { withSearchCn } from '../../platform/search/institution-document.ts';
import { institutionSearchDocument, type Row } from '../../read-models/catalog.ts';
import { TransientError } from '../runtime/errors.ts';
import { evolveRow, needsPrevious, type ChangeEvent } from './change-event.ts';

export interface SearchApplyResult {
  applied: number;
  stale: number;
  /** Ids the engine rejected for good (a document it cannot parse): the caller dead-letters them. */
  rejected: { id: string; reason: string }[];
}

export class SearchCatalogWriter {
  constructor(
    private readonly search: SearchEngine,
    /** The concrete index (not the alias: during a rebuild two projectors write two versions). */
    private readonly index: string,
  ) {}

  async apply(events: readonly ChangeEvent[]): Promise<SearchApplyResult> {
    // Fold the batch per id: the last version of each row wins (events of one id are in LSN order).
    const latest = new Map<string, { row: Row | null; lsn: number }>();
    for (const event of events) {
      let previous: Row | null = null;
      if (needsPrevious(event)) {
        previous = latest.has(event.id)
          ? (latest.get(event.id)?.row ?? null)
          : ((await this.search.get<Row>(this.index, event.id))?.source ?? null);
      }
      latest.set(event.id, { row: evolveRow(previous, event), lsn: event.lsn });
    }
    const operations: BulkOperation[] = [...latest].map(([id, { row, lsn }]) =>
      row === null
        ? { action: 'delete', index: this.index, id, version: lsn }
        : {
            action: 'index',
            index: this.index,
            id,
            version: lsn,
            document: withSearchCn(institutionSearchDocument(row)),
          },
    );
    const result = await this.search.bulk(operations);
    const rejected: SearchApplyResult['rejected'] = [];
    const retryable: string[] = [];
    for (const f of result.failures) {
      if (f.status === 429 || f.status >= 500) retryable.push(`${f.id}: ${f.status} ${f.reason}`);
      else rejected.push({ id: f.id, reason: `${f.status} ${f.reason}` });
    }
    if (retryable.length > 0) {
      // Re-sending the whole batch is safe: what was applied comes back as stale.
      throw new TransientError(`search rejected ${retryable.length} write(s): ${retryable[0] ?? ''}`);
    }
    return { applied: result.applied, stale: result.stale, rejected };
  }
}
