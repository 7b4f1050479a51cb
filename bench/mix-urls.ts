/**
 * The URL set of the mixed-workload query benchmark, built from the seeded catalog, and Zipf
 * draws over it. Every URL is written in one canonical form (parameters sorted), as a client
 * library writes them; a share of homepage links carry campaign tags, as shared links do.
 */
import type pg from 'pg';

export type RouteName =
  | '/v1/homepage'
  | '/v1/institutions'
  | '/v1/institutions/:id'
  | '/v1/institutions/:id/departments'
  | '/v1/doctors/:id/schedules'
  | '/v1/search/institutions';

export const ROUTES: readonly RouteName[] = [
  '/v1/homepage',
  '/v1/institutions',
  '/v1/institutions/:id',
  '/v1/institutions/:id/departments',
  '/v1/doctors/:id/schedules',
  '/v1/search/institutions',
];

export function routeOf(url: string): RouteName {
  const path = url.split('?')[0]!;
  if (path === '/v1/homepage') return '/v1/homepage';
  if (path === '/v1/institutions') return '/v1/institutions';
  if (path === '/v1/search/institutions') return '/v1/search/institutions';
  if (path.startsWith('/v1/doctors/')) return '/v1/doctors/:id/schedules';
  return path.endsWith('/departments') ? '/v1/institutions/:id/departments' : '/v1/institutions/:id';
}

export interface CatalogSample {
  cities: string[];
  institutionIds: string[];
  departmentIds: string[];
  doctorIds: string[];
  /** Search terms: the start of institution names, with a city or not. */
  searches: { q: string; city?: string }[];
}

const e = encodeURIComponent;

/** Cities by size, the first institutions of each, their departments and some doctors. */
export async function sampleCatalog(
  db: pg.ClientBase,
  opts: { cities: number; perCity: number; doctorsPerCity: number; searches: number },
): Promise<CatalogSample> {
  const cities = (
    await db.query<{ city: string }>(
      `SELECT city FROM institutions WHERE status = 'active' GROUP BY city ORDER BY count(*) DESC, city LIMIT $1`,
      [opts.cities],
    )
  ).rows.map((r) => r.city);
  const inst = await db.query<{ id: string; city: string; name: string }>(
    `SELECT id, city, name FROM (
       SELECT id, city, name, row_number() OVER (PARTITION BY city ORDER BY id) AS n
       FROM institutions WHERE status = 'active' AND city = ANY($1)) x
     WHERE n <= $2 ORDER BY city, id`,
    [cities, opts.perCity],
  );
  const institutionIds = inst.rows.map((r) => String(r.id));
  const departmentIds = (
    await db.query<{ id: string }>(`SELECT id FROM departments WHERE institution_id = ANY($1::bigint[])`, [
      institutionIds,
    ])
  ).rows.map((r) => String(r.id));
  const doctorIds = (
    await db.query<{ id: string }>(
      `SELECT id FROM (
         SELECT d.id, row_number() OVER (PARTITION BY i.city ORDER BY d.id) AS n
         FROM doctors d JOIN institutions i ON i.id = d.institution_id
         WHERE d.institution_id = ANY($1::bigint[]) AND d.status = 'active') x
       WHERE n <= $2`,
      [institutionIds, opts.doctorsPerCity],
    )
  ).rows.map((r) => String(r.id));
  const searches: { q: string; city?: string }[] = [];
  const seen = new Set<string>();
  for (let i = 0; searches.length < opts.searches && i < inst.rows.length * 3; i++) {
    const row = inst.rows[(i * 7) % inst.rows.length]!;
    const q = [...row.name].slice(0, 2 + (i % 3)).join('');
    const city = i % 2 === 0 ? row.city : undefined;
    const id = `${q}|${city ?? ''}`;
    if (seen.has(id)) continue;
    seen.add(id);
    searches.push(city ? { q, city } : { q });
  }
  return { cities, institutionIds, departmentIds, doctorIds, searches };
}

/** The page URLs (list second pages need the cursor of the first: `secondPage` asks the API). */
export async function pageUrls(
  s: CatalogSample,
  secondPage: (firstPage: string) => Promise<string | undefined>,
): Promise<string[]> {
  const urls: string[] = [];
  for (const city of s.cities) {
    urls.push(`/v1/homepage?city=${e(city)}`);
    urls.push(`/v1/homepage?city=${e(city)}&utm_medium=share&utm_source=wechat`);
    const first = `/v1/institutions?city=${e(city)}&limit=20`;
    urls.push(first);
    const cursor = await secondPage(first);
    if (cursor) urls.push(`/v1/institutions?city=${e(city)}&cursor=${e(cursor)}&limit=20`);
  }
  for (const id of s.institutionIds)
    urls.push(`/v1/institutions/${id}`, `/v1/institutions/${id}/departments`);
  for (const id of s.doctorIds) urls.push(`/v1/doctors/${id}/schedules`);
  return urls;
}

export const searchUrls = (s: CatalogSample): string[] =>
  s.searches.map(({ q, city }) =>
    city ? `/v1/search/institutions?city=${e(city)}&q=${e(q)}` : `/v1/search/institutions?q=${e(q)}`,
  );

/** A small deterministic PRNG (mulberry32): the same mix in every run. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffle<T>(xs: readonly T[], rnd: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * `count` indexes into a list of `n` URLs, rank k drawn with probability ∝ 1/k^s (Zipf). The
 * list's order is its popularity order: shuffle it first so popularity does not follow page type.
 */
export function zipfDraws(n: number, count: number, s: number, rnd: () => number): Uint32Array {
  const cdf = new Float64Array(n);
  let total = 0;
  for (let k = 0; k < n; k++) cdf[k] = total += 1 / Math.pow(k + 1, s);
  const draws = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const x = rnd() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    draws[i] = lo;
  }
  return draws;
}
