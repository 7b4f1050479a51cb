/**
 * The seeded institutions as rows (as Debezium delivers them: rating a number), generated in
 * process from the deterministic seed (infra/seed/generate.ts), so the relevance set and
 * bench:search never depend on what a machine's database holds.
 */
import { COLUMNS, generateCatalog, type SeedOptions } from '../infra/seed/generate.ts';
import { withSearchCn } from '../platform/search/institution-document.ts';
import type { SearchEngine } from '../platform/search/index.ts';
import { ensureInstitutionsIndex } from '../projections/catalog/search-index.ts';
import { institutionSearchDocument } from '../read-models/catalog.ts';

export type InstitutionRow = Record<string, unknown> & {
  id: number;
  name: string;
  alias_names: string[];
  city: string;
  district: string;
  level: string;
  type: string;
  tags: string[];
  rating: number;
  status: string;
};

export function seededInstitutions(options: Partial<SeedOptions> = {}): InstitutionRow[] {
  const catalog = generateCatalog(options);
  const rows: InstitutionRow[] = [];
  for (const tuple of catalog.rows.institutions()) {
    const row: Record<string, unknown> = {};
    COLUMNS.institutions.forEach((column, i) => (row[column] = tuple[i]));
    row.rating = Number(row.rating);
    rows.push(row as InstitutionRow);
  }
  return rows;
}

/** Indexes the seeded institutions into a new index behind `alias` (as the catalog projection would) and refreshes it. */
export async function loadSeededInstitutions(
  search: SearchEngine,
  alias: string,
): Promise<{ index: string; docs: number }> {
  const { index } = await ensureInstitutionsIndex(search, alias);
  const rows = seededInstitutions();
  for (let i = 0; i < rows.length; i += 500) {
    const result = await search.bulk(
      rows.slice(i, i + 500).map((row) => ({
        action: 'index' as const,
        index,
        id: String(row.id),
        version: 1,
        document: withSearchCn(institutionSearchDocument(row)),
      })),
    );
    if (result.failures.length) throw new Error(`indexing failed: ${JSON.stringify(result.failures[0])}`);
  }
  await search.refresh(index);
  return { index, docs: rows.length };
}
