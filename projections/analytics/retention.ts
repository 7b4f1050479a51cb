/**
 * Retention of the analytics index: whole monthly indices past ANALYTICS_RETENTION_MONTHS are
 * deleted (a delete of an index is cheap and exact; a delete-by-query of old documents is
 * neither). The projector runs `applyRetention` at start and then on an interval.
 */
import type { Logger } from '../../platform/logger.ts';
import type { SearchEngine } from '../../platform/search/index.ts';
import { monthOfIndex } from './analytics-model.ts';

/** The oldest month kept (`YYYY-MM`): the current month (UTC+8) and the `months - 1` before it. */
export function oldestKeptMonth(now: Date, months: number): string {
  const local = new Date(now.getTime() + 8 * 3_600_000);
  const first = new Date(Date.UTC(local.getUTCFullYear(), local.getUTCMonth() - (months - 1), 1));
  return first.toISOString().slice(0, 7);
}

/** Pure: which of `indices` are monthly indices of `alias` older than the retention keeps. */
export function expiredIndices(
  alias: string,
  indices: readonly string[],
  now: Date,
  months: number,
): string[] {
  const oldest = oldestKeptMonth(now, months);
  return indices.filter((index) => {
    const month = monthOfIndex(alias, index);
    return month !== undefined && month < oldest;
  });
}

/** Deletes the monthly indices past retention; returns their names. */
export async function applyRetention(opts: {
  engine: SearchEngine;
  alias: string;
  months: number;
  now?: Date;
  logger?: Logger;
}): Promise<string[]> {
  const expired = expiredIndices(
    opts.alias,
    await opts.engine.aliasTargets(opts.alias),
    opts.now ?? new Date(),
    opts.months,
  );
  for (const index of expired) await opts.engine.deleteIndex(index);
  if (expired.length > 0) opts.logger?.info({ deleted: expired }, 'analytics indices past retention deleted');
  return expired;
}
