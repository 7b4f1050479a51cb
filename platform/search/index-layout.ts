/**
 * How an environment lays its search indices out across nodes: shards, replicas and refresh
 * interval (SEARCH_SHARDS, SEARCH_REPLICAS, SEARCH_REFRESH_INTERVAL). The index definitions in
 * the code say what an index holds (mappings, analysis); the layout is the environment's, and
 * createIndex applies it over the definition's own settings, so every index the platform creates
 * (catalog, appointments, alias rebuilds) follows one setting. ADR 0022.
 */
import type { IndexDefinition } from './search-engine.ts';

export interface IndexLayout {
  /** Primary shards; unset: the definition's. */
  shards?: number | undefined;
  /**
   * Copies besides the primary. `auto` (the default): one replica when a second node exists,
   * none on a single node (`auto_expand_replicas: 0-1`), so one node stays green and two nodes
   * hold every shard twice.
   */
  replicas?: number | 'auto' | undefined;
  /** e.g. `1s`, `30s`, `-1`; unset: the definition's. */
  refreshInterval?: string | undefined;
}

/** Both spellings a definition may use for one setting (`number_of_shards`, `index.number_of_shards`). */
function without(settings: Record<string, unknown>, ...keys: string[]): Record<string, unknown> {
  const drop = new Set(keys.flatMap((k) => [k, `index.${k}`]));
  return Object.fromEntries(Object.entries(settings).filter(([k]) => !drop.has(k)));
}

/** Pure: the definition with the layout's settings in place of its own. */
export function withLayout(definition: IndexDefinition, layout: IndexLayout | undefined): IndexDefinition {
  if (!layout) return definition;
  let settings = { ...(definition.settings ?? {}) };
  if (layout.shards !== undefined) {
    settings = { ...without(settings, 'number_of_shards'), number_of_shards: layout.shards };
  }
  if (layout.replicas !== undefined) {
    settings = without(settings, 'number_of_replicas', 'auto_expand_replicas');
    settings =
      layout.replicas === 'auto'
        ? { ...settings, auto_expand_replicas: '0-1' }
        : { ...settings, number_of_replicas: layout.replicas, auto_expand_replicas: 'false' };
  }
  if (layout.refreshInterval !== undefined) {
    settings = { ...without(settings, 'refresh_interval'), refresh_interval: layout.refreshInterval };
  }
  return { ...definition, settings };
}
