/**
 * Pure, deterministic catalog generation: the same options (and seed) produce the same rows.
 * Rows are tuples in the column order of `COLUMNS`, ready for COPY.
 */
import {
  ARTICLE_TOPICS,
  CHINESE_NUMERALS,
  CITIES,
  CONTENT_TABS,
  DEPARTMENTS,
  GIVEN_NAME_CHARS,
  LEVELS,
  LEVEL_WEIGHTS,
  PRIVATE_BRANDS,
  SPECIALIST_HOSPITALS,
  SPECIALTIES,
  STREETS,
  SURNAMES,
  TAGS,
  TITLES,
  TITLE_WEIGHTS,
  UNIVERSITIES,
  type City,
  type DepartmentTemplate,
} from './data.ts';
import { createRandom, type Random } from './random.ts';

export type CopyValue = string | number | null | readonly string[];
export type Row = CopyValue[];

export const COLUMNS = {
  institutions: [
    'id',
    'name',
    'alias_names',
    'city',
    'district',
    'address',
    'level',
    'type',
    'tags',
    'rating',
    'latitude',
    'longitude',
    'status',
    'created_at',
    'updated_at',
  ],
  departments: ['id', 'institution_id', 'name', 'category', 'created_at', 'updated_at'],
  doctors: [
    'id',
    'institution_id',
    'department_id',
    'name',
    'title',
    'specialties',
    'rating',
    'created_at',
    'updated_at',
  ],
  homepage_content: [
    'id',
    'kind',
    'tab',
    'title',
    'url',
    'cover_url',
    'weight',
    'starts_at',
    'ends_at',
    'city',
    'created_at',
    'updated_at',
  ],
} as const;

export type CatalogTable = keyof typeof COLUMNS;
export const CATALOG_TABLES = Object.keys(COLUMNS) as CatalogTable[];

export interface SeedOptions {
  /** PRNG seed; the same seed gives the same catalog. */
  seed: number;
  institutions: number;
  /** How many of the 30 reference cities to spread institutions over. */
  cities: number;
  /** Average departments per institution (each gets this ±2). */
  departmentsPerInstitution: number;
  doctors: number;
  content: number;
  /** Timestamps are drawn before this instant, publish windows around it (fixed, for determinism). */
  epoch: Date;
}

export const DEFAULT_SEED_OPTIONS: SeedOptions = {
  seed: 20_240_601,
  institutions: 3000,
  cities: 30,
  departmentsPerInstitution: 10,
  doctors: 30_000,
  content: 600,
  epoch: new Date('2026-01-01T00:00:00Z'),
};

interface Institution {
  id: number;
  city: City;
  level: string;
  type: string;
  rating: number;
  departmentCategories: readonly string[] | null;
}

interface Department {
  id: number;
  institutionId: number;
  category: string;
}

const DAY_MS = 86_400_000;
const iso = (ms: number): string => new Date(ms).toISOString();
const round = (n: number, digits: number): number => Number(n.toFixed(digits));
const clamp = (n: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, n));

function gaussian(r: Random): number {
  // Box–Muller; 1 - next() avoids log(0).
  return Math.sqrt(-2 * Math.log(1 - r.next())) * Math.cos(2 * Math.PI * r.next());
}

const numeral = (n: number): string =>
  n <= 10
    ? (CHINESE_NUMERALS[n - 1] ?? String(n))
    : `${CHINESE_NUMERALS[9]}${CHINESE_NUMERALS[n - 11] ?? ''}`;

interface NamedInstitution {
  name: string;
  aliases: string[];
  type: string;
  level: string;
  categories: readonly string[] | null;
}

function nameInstitution(r: Random, city: City, district: string): NamedInstitution {
  const c = city.name;
  const kind = r.weighted(
    ['university', 'people', 'district', 'tcm', 'specialist', 'private', 'community'],
    [4, 8, 14, 8, 8, 18, 40],
  );
  const level = (...allowed: (typeof LEVELS)[number][]) =>
    r.weighted(
      allowed,
      allowed.map((l) => LEVEL_WEIGHTS[LEVELS.indexOf(l)] ?? 1),
    );
  switch (kind) {
    case 'university': {
      const uni = r.pick(UNIVERSITIES);
      const n = numeral(r.int(1, 4));
      return {
        name: `${c}${uni}附属第${n}医院`,
        aliases: [`${c}${uni.slice(0, 2)}附${n}院`, `附${n}院`],
        type: uni === '中医药大学' ? '中医医院' : '综合医院',
        level: '三级甲等',
        categories: null,
      };
    }
    case 'people': {
      const n = numeral(r.int(1, 12));
      return {
        name: `${c}市第${n}人民医院`,
        aliases: [`${c}市${n}院`, `市${n}医院`],
        type: '综合医院',
        level: level('三级甲等', '三级乙等', '二级甲等'),
        categories: null,
      };
    }
    case 'district':
      return {
        name: `${c}市${district}人民医院`,
        aliases: [`${district}医院`, `${district}人医`],
        type: '综合医院',
        level: level('三级乙等', '二级甲等', '二级乙等'),
        categories: null,
      };
    case 'tcm': {
      const cityLevel = r.chance(0.3);
      return {
        name: cityLevel ? `${c}市中医医院` : `${c}市${district}中医医院`,
        aliases: [cityLevel ? `${c}中医院` : `${district}中医院`],
        type: '中医医院',
        level: level('三级甲等', '二级甲等', '二级乙等'),
        categories: ['中医科', '内科', '康复科', '外科', '医技科室'],
      };
    }
    case 'specialist': {
      const s = r.pick(SPECIALIST_HOSPITALS);
      return {
        name: `${c}市${s.suffix}`,
        aliases: [`${c}${s.suffix.replace('医院', '')}`],
        type: s.type,
        level: level('三级甲等', '三级乙等', '二级甲等'),
        categories: s.departments,
      };
    }
    case 'private': {
      const brand = r.pick(PRIVATE_BRANDS);
      return {
        name: `${c}${brand}${district.replace(/区|县$/, '')}医院`,
        aliases: [`${brand}医院`],
        type: r.chance(0.4) ? '专科医院' : '综合医院',
        level: level('二级甲等', '二级乙等', '一级', '未定级'),
        categories: null,
      };
    }
    default: {
      const street = r.pick(STREETS);
      return {
        name: `${c}市${district}${street}社区卫生服务中心`,
        aliases: [`${street}社区医院`],
        type: '社区卫生服务中心',
        level: r.chance(0.8) ? '一级' : '未定级',
        categories: ['全科', '内科', '儿科', '中医科', '口腔科', '康复科', '医技科室'],
      };
    }
  }
}

const LEVEL_RATING: Record<string, number> = {
  三级甲等: 4.5,
  三级乙等: 4.2,
  二级甲等: 4.0,
  二级乙等: 3.8,
  一级: 3.6,
  未定级: 3.5,
};

/** Everything the seed writes, as lazy row iterators with their counts known up front. */
export interface GeneratedCatalog {
  counts: Record<CatalogTable, number>;
  rows: Record<CatalogTable, () => Iterable<Row>>;
}

export function generateCatalog(options: Partial<SeedOptions> = {}): GeneratedCatalog {
  const opts: SeedOptions = { ...DEFAULT_SEED_OPTIONS, ...options };
  const r = createRandom(opts.seed);
  const epoch = opts.epoch.getTime();
  const cities = CITIES.slice(0, clamp(opts.cities, 1, CITIES.length));
  const stamp = (maxDaysAgo: number): [string, string] => {
    const created = epoch - r.int(maxDaysAgo / 2, maxDaysAgo) * DAY_MS - r.int(0, DAY_MS - 1);
    const updated = Math.min(epoch, created + r.int(0, maxDaysAgo / 2) * DAY_MS);
    return [iso(created), iso(updated)];
  };

  // Institutions and departments are small enough to build eagerly; doctors reference them.
  const institutions: Institution[] = [];
  const institutionRows: Row[] = [];
  const namesByCity = new Map<string, Set<string>>();
  for (let i = 0; i < opts.institutions; i++) {
    const id = i + 1;
    const city = cities[i % cities.length] as City;
    const district = r.pick(city.districts);
    const named = nameInstitution(r, city, district);
    const taken = namesByCity.get(city.name) ?? new Set<string>();
    namesByCity.set(city.name, taken);
    let name = named.name;
    for (let k = 2; taken.has(name); k++) name = `${named.name}（${district}${numeral(k)}院区）`;
    taken.add(name);
    const rating = round(clamp((LEVEL_RATING[named.level] ?? 3.5) + gaussian(r) * 0.3, 1, 5), 2);
    const status = r.weighted(['active', 'suspended', 'closed'], [97, 2, 1]);
    const tags = r.sample(TAGS, r.int(0, 4));
    const [createdAt, updatedAt] = stamp(3 * 365);
    institutions.push({
      id,
      city,
      level: named.level,
      type: named.type,
      rating,
      departmentCategories: named.categories,
    });
    institutionRows.push([
      id,
      name,
      named.aliases,
      city.name,
      district,
      `${city.name}市${district}${r.pick(STREETS)}${r.int(1, 999)}号`,
      named.level,
      named.type,
      tags,
      rating.toFixed(2),
      round(city.lat + gaussian(r) * 0.08, 6),
      round(city.lon + gaussian(r) * 0.08, 6),
      status,
      createdAt,
      updatedAt,
    ]);
  }

  const departments: Department[] = [];
  const departmentRows: Row[] = [];
  const departmentsOf = new Map<number, Department[]>();
  for (const inst of institutions) {
    const pool: readonly DepartmentTemplate[] = inst.departmentCategories
      ? DEPARTMENTS.filter((d) => inst.departmentCategories?.includes(d.category))
      : DEPARTMENTS;
    const n = r.int(Math.max(1, opts.departmentsPerInstitution - 2), opts.departmentsPerInstitution + 2);
    const own: Department[] = [];
    for (const template of r.sample(pool, n)) {
      const dept = { id: departments.length + 1, institutionId: inst.id, category: template.category };
      departments.push(dept);
      own.push(dept);
      const [createdAt, updatedAt] = stamp(3 * 365);
      departmentRows.push([dept.id, inst.id, template.name, template.category, createdAt, updatedAt]);
    }
    departmentsOf.set(inst.id, own);
  }

  const withDepartments = institutions.filter((i) => (departmentsOf.get(i.id)?.length ?? 0) > 0);

  function* doctorRows(): Iterable<Row> {
    const d = createRandom(opts.seed ^ 0x5eed);
    for (let i = 0; i < opts.doctors; i++) {
      const inst = d.pick(withDepartments);
      const dept = d.pick(departmentsOf.get(inst.id) ?? []);
      const surname = d.pick(SURNAMES);
      const given = d.chance(0.7)
        ? d.pick(GIVEN_NAME_CHARS) + d.pick(GIVEN_NAME_CHARS)
        : d.pick(GIVEN_NAME_CHARS);
      const title = d.weighted(TITLES, TITLE_WEIGHTS);
      const specialties = d.sample(SPECIALTIES[dept.category] ?? [], d.int(1, 3));
      const rating = clamp(inst.rating + gaussian(d) * 0.35 + (title === '主任医师' ? 0.2 : 0), 1, 5);
      const created = epoch - d.int(30, 1500) * DAY_MS;
      const updated = Math.min(epoch, created + d.int(0, 400) * DAY_MS);
      yield [
        i + 1,
        inst.id,
        dept.id,
        surname + given,
        title,
        specialties,
        rating.toFixed(2),
        iso(created),
        iso(updated),
      ];
    }
  }

  function* contentRows(): Iterable<Row> {
    const c = createRandom(opts.seed ^ 0xc0de);
    for (let i = 0; i < opts.content; i++) {
      const id = i + 1;
      const kind = c.weighted(['banner', 'video', 'article'] as const, [2, 3, 5]);
      const tab = c.pick(CONTENT_TABS[kind]);
      const topic = c.pick(ARTICLE_TOPICS);
      const city = c.chance(0.4) ? null : c.pick(cities).name;
      const title =
        kind === 'banner'
          ? `${city ?? '全国'}${c.pick(['专家号源上新', '互联网医院复诊开药', '预约挂号指南', '体检套餐优惠'])}`
          : kind === 'video'
            ? `【${c.pick(['名医说', '三分钟科普', '医生来了'])}】${topic}`
            : topic;
      const starts = epoch - c.int(0, 180) * DAY_MS;
      const ends = c.chance(0.5) ? null : starts + c.int(30, 1000) * DAY_MS;
      yield [
        id,
        kind,
        tab,
        title,
        `https://content.example.cn/${kind}/${id}`,
        kind === 'article' ? null : `https://cdn.example.cn/${kind}/${id}.jpg`,
        c.int(0, 100),
        iso(starts),
        ends === null ? null : iso(ends),
        city,
        iso(starts - DAY_MS),
        iso(starts - DAY_MS),
      ];
    }
  }

  return {
    counts: {
      institutions: institutionRows.length,
      departments: departmentRows.length,
      doctors: opts.doctors,
      homepage_content: opts.content,
    },
    rows: {
      institutions: () => institutionRows,
      departments: () => departmentRows,
      doctors: doctorRows,
      homepage_content: contentRows,
    },
  };
}
