/**
 * The catalog columns the public API serves. Every column still flows through CDC into Redis and
 * the analysts' index with no code change (docs/adr/0004); it reaches a public response only once
 * it is listed here, with its type as Debezium delivers it (JSON without schemas: bigint → number,
 * numeric → double, timestamptz → ISO-8601 string, text[] → array). A column someone adds for
 * internal use (`internal_notes`, `contact_phone_private`), or one dropped since that old row
 * images still carry, is never published by accident.
 *
 * These schemas are also the OpenAPI description of the catalog rows (query-api/response-schemas.ts),
 * strict there, so a response that carried an unpublished column would fail the contract test.
 */
import { z } from 'zod';
import type { CatalogTable, Row } from './catalog.ts';

const id = z.int();
const text = z.string();
const optionalText = z.string().nullable();
const texts = z.array(z.string());
const rating = z.number().nullable();
const instant = z.string();

export const publishedColumns = {
  institutions: {
    id,
    name: text,
    alias_names: texts,
    city: text,
    district: optionalText,
    address: optionalText,
    level: text,
    type: text,
    tags: texts,
    rating,
    latitude: z.number().nullable(),
    longitude: z.number().nullable(),
    status: z.enum(['active', 'suspended', 'closed']),
    updated_at: instant,
  },
  departments: {
    id,
    institution_id: id,
    name: text,
    category: text,
    updated_at: instant,
  },
  doctors: {
    id,
    institution_id: id,
    department_id: id,
    name: text,
    title: text,
    specialties: texts,
    rating,
    updated_at: instant,
  },
  homepage_content: {
    id,
    kind: z.enum(['banner', 'video', 'article']),
    tab: text,
    title: text,
    url: text,
    cover_url: optionalText,
    weight: z.int(),
    starts_at: instant,
    ends_at: z.string().nullable(),
    city: optionalText,
    updated_at: instant,
  },
} as const satisfies Record<CatalogTable, z.ZodRawShape>;

const names: Record<CatalogTable, readonly string[]> = {
  institutions: Object.keys(publishedColumns.institutions),
  departments: Object.keys(publishedColumns.departments),
  doctors: Object.keys(publishedColumns.doctors),
  homepage_content: Object.keys(publishedColumns.homepage_content),
};

/**
 * The published part of a stored row: only listed columns, as stored (no copy of a value, no
 * parsing: this runs on every cache fill of the homepage). A listed column the row lacks (a
 * row written before the column existed) is left out, not invented.
 */
export function publish(table: CatalogTable, row: Row): Row {
  const out: Row = {};
  for (const column of names[table]) {
    if (Object.hasOwn(row, column)) out[column] = row[column];
  }
  return out;
}
