/**
 * Zero-downtime rebuild of an index behind its alias, for an analysis or mapping change:
 *
 *   1. create the new index with the new definition
 *   2. copy every document of the index the alias points at, transformed (e.g. fields recomputed
 *      for the new analysis), at the version it has (external versioning: a document the live
 *      writer already wrote newer into the new index stays newer)
 *   3. swap the alias in one atomic _aliases request: readers see the old index, then the new
 *      one, never none and never a half-built one
 *   4. after a grace period for searches already routed to the old index, copy once more (what a
 *      writer still put into the old index meanwhile) and delete the old index
 */
import type { BulkOperation, IndexDefinition, SearchEngine } from './search-engine.ts';

export interface AliasRebuildOptions {
  search: SearchEngine;
  alias: string;
  /** The new concrete index. */
  target: string;
  definition: IndexDefinition;
  /** The document as the new index wants it. */
  transform: (source: Record<string, unknown>) => Record<string, unknown>;
  /** How long searches already sent to the old index get before it is deleted (default 2 s). */
  graceMs?: number;
  pageSize?: number;
}

export interface AliasRebuildResult {
  from: string[];
  copied: number;
  /** Documents the new index already held at the same or a newer version. */
  stale: number;
}

async function copyAll(
  opts: AliasRebuildOptions,
  source: string,
): Promise<{ copied: number; stale: number }> {
  let copied = 0;
  let stale = 0;
  for await (const page of opts.search.scan<Record<string, unknown>>(source, {
    pageSize: opts.pageSize ?? 500,
  })) {
    const operations: BulkOperation[] = page.map((hit) => ({
      action: 'index',
      index: opts.target,
      id: hit.id,
      document: opts.transform(hit.source),
      ...(hit.version !== undefined ? { version: hit.version } : {}),
    }));
    const result = await opts.search.bulk(operations);
    if (result.failures.length > 0) {
      const f = result.failures[0];
      throw new Error(
        `rebuild of ${opts.alias}: ${result.failures.length} failed, e.g. ${f?.id}: ${f?.reason}`,
      );
    }
    copied += result.applied;
    stale += result.stale;
  }
  return { copied, stale };
}

export async function rebuildBehindAlias(opts: AliasRebuildOptions): Promise<AliasRebuildResult> {
  const { search, alias, target } = opts;
  await search.createIndex(target, opts.definition);
  const from = (await search.aliasTargets(alias)).filter((index) => index !== target);
  const totals = { copied: 0, stale: 0 };
  const add = (r: { copied: number; stale: number }) => {
    totals.copied += r.copied;
    totals.stale += r.stale;
  };
  for (const source of from) add(await copyAll(opts, source));
  await search.refresh(target);
  await search.swapAlias(alias, target);
  if (from.length > 0) {
    await new Promise((resolve) => setTimeout(resolve, opts.graceMs ?? 2_000));
    for (const source of from) add(await copyAll(opts, source));
    await search.refresh(target);
    for (const source of from) await search.deleteIndex(source);
  }
  return { from, ...totals };
}
