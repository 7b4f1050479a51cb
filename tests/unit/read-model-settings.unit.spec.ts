import { describe, expect, it } from 'vitest';
import { loadCatalogProjectionConfig } from '../../projections/catalog/config.ts';
import { parseProjectionsConfig } from '../../projections/config.ts';
import { parseQueryApiConfig } from '../../query-api/config.ts';
import { parseReadModelSettings } from '../../read-models/settings.ts';

const names = [
  'READ_MODEL_PREFIX',
  'APPOINTMENTS_ALIAS',
  'CATALOG_REDIS_PREFIX',
  'CATALOG_SEARCH_ALIAS',
] as const;

/** The names each side resolves from one environment. */
function resolve(env: Record<string, string>) {
  const query = parseQueryApiConfig(env);
  const projections = parseProjectionsConfig(env);
  if (!query.ok || !projections.ok) throw new Error('unexpected invalid settings');
  const catalog = loadCatalogProjectionConfig(env);
  return {
    reader: Object.fromEntries(names.map((n) => [n, query.config[n]])),
    writers: {
      READ_MODEL_PREFIX: projections.config.READ_MODEL_PREFIX,
      APPOINTMENTS_ALIAS: projections.config.APPOINTMENTS_ALIAS,
      CATALOG_REDIS_PREFIX: catalog.CATALOG_REDIS_PREFIX,
      CATALOG_SEARCH_ALIAS: catalog.CATALOG_SEARCH_ALIAS,
    },
  };
}

describe('read-model names: one schema for the projectors and the query API', () => {
  it('the same defaults on both sides', () => {
    const { reader, writers } = resolve({});
    expect(reader).toEqual(writers);
    expect(reader).toEqual({
      READ_MODEL_PREFIX: 'rm',
      APPOINTMENTS_ALIAS: 'appointments',
      CATALOG_REDIS_PREFIX: 'catalog:',
      CATALOG_SEARCH_ALIAS: 'institutions',
    });
  });

  it('the same overrides on both sides', () => {
    const env = {
      READ_MODEL_PREFIX: 't1rm',
      APPOINTMENTS_ALIAS: 't1appointments',
      CATALOG_REDIS_PREFIX: 't1catalog:',
      CATALOG_SEARCH_ALIAS: 't1institutions',
    };
    const { reader, writers } = resolve(env);
    expect(reader).toEqual(env);
    expect(writers).toEqual(env);
  });

  it('rejects a bad alias by name', () => {
    const result = parseReadModelSettings({ CATALOG_SEARCH_ALIAS: 'Not An Alias' });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors[0]).toMatch(/^CATALOG_SEARCH_ALIAS=/);
  });
});
