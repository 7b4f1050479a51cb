/**
 * The seeded institutions as rows (as Debezium delivers them: rating a number), generated in
 * process from the deterministic seed (infra/seed/generate.ts), so the relevance set and
 * bench:search never depend on what a machine's database holds.
 */
import { COLUMNS, generateCatalog, type SeedOptions } from '../infra/seed/generate.ts';

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
