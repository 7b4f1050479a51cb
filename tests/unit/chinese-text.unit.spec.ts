import { describe, expect, it } from 'vitest';
import {
  compactLatin,
  expandTerm,
  foldText,
  isLatinQuery,
  joinedSuffixes,
  pinyinInitials,
  pinyinSyllables,
  SYNONYM_RULES,
} from '../../platform/search/chinese-text.ts';
import { searchCnFields } from '../../platform/search/institution-document.ts';
import { institutionSearchQuery, normaliseQuery } from '../../platform/search/institution-query.ts';

describe('foldText', () => {
  it('folds traditional to simplified, full width to half width, and case', () => {
    expect(foldText('天津市第一人民醫院')).toBe('天津市第一人民医院');
    expect(foldText('瀋陽市精神衛生中心')).toBe('沈阳市精神卫生中心');
    expect(foldText('  Ｔianjin   医院（东院） ')).toBe('tianjin 医院(东院)');
  });

  it('leaves simplified text as it is', () => {
    expect(foldText('北京协和医院')).toBe('北京协和医院');
  });
});

describe('pinyin', () => {
  it('gives one syllable per character, reading polyphones from context', () => {
    expect(pinyinSyllables('天津市第一人民医院')).toEqual([
      'tian',
      'jin',
      'shi',
      'di',
      'yi',
      'ren',
      'min',
      'yi',
      'yuan',
    ]);
    expect(pinyinSyllables('重庆长安区').join('')).toBe('chongqingchanganqu');
  });

  it('drops punctuation and keeps latin and digit runs', () => {
    expect(pinyinSyllables('A医院（2院区）')).toEqual(['a', 'yi', 'yuan', '2', 'yuan', 'qu']);
  });

  it('takes the initials of each syllable', () => {
    expect(pinyinInitials('天津市第一人民医院')).toBe('tjsdyrmyy');
    expect(pinyinInitials('重庆醫院')).toBe('cqyy');
  });

  it('joins every suffix that starts at a syllable boundary', () => {
    expect(joinedSuffixes(['tian', 'jin', 'yi'])).toEqual(['tianjinyi', 'jinyi', 'yi']);
    expect(joinedSuffixes([])).toEqual([]);
  });
});

describe('latin queries', () => {
  it('tells pinyin and initials from Chinese', () => {
    expect(isLatinQuery('tianjin')).toBe(true);
    expect(isLatinQuery("xi'an yiyuan")).toBe(true);
    expect(isLatinQuery('120')).toBe(false);
    expect(isLatinQuery('天津')).toBe(false);
    expect(isLatinQuery('tj医院')).toBe(false);
  });

  it('compacts spaces and apostrophes', () => {
    expect(compactLatin("xi'an shi")).toBe('xianshi');
    expect(normaliseQuery(' Tian Jin ')).toBe('tianjin');
    expect(normaliseQuery('醫院')).toBe('医院');
  });
});

describe('synonym rules', () => {
  it('expands levels, types and tags to their abbreviations', () => {
    expect(expandTerm('三级甲等')).toEqual(['三级甲等', '三甲', '三级']);
    expect(expandTerm('妇幼保健院')).toContain('妇幼');
    expect(expandTerm('中医医院')).toContain('中医院');
    expect(expandTerm('社区卫生服务中心')).toContain('社区医院');
  });

  it('is one-way and leaves other terms alone', () => {
    expect(expandTerm('三甲')).toEqual(['三甲']);
    expect(expandTerm('北京')).toEqual(['北京']);
  });

  it('keeps each rule in the analyzer format, every expansion including the term itself', () => {
    for (const rule of SYNONYM_RULES) {
      const [from, to] = rule.split('=>').map((s) => s.trim());
      expect(to?.split(',').map((s) => s.trim())).toContain(from);
    }
  });
});

describe('searchCnFields', () => {
  const row = {
    id: 7,
    name: '天津市第一人民醫院',
    alias_names: ['天津市一院', '市一医院', ''],
    level: '三级甲等',
    type: '综合医院',
    tags: ['卒中中心'],
    city: '天津',
    district: '和平区',
  };

  it('derives folded names, pinyin, initials, terms and the level rank', () => {
    const f = searchCnFields(row);
    expect(f.name).toBe('天津市第一人民医院');
    expect(f.aliases).toEqual(['天津市一院', '市一医院']);
    expect(f.pinyin).toBe('tianjinshidiyirenminyiyuan');
    expect(f.initials).toBe('tjsdyrmyy');
    expect(f.pinyin_parts).toContain('renminyiyuan');
    expect(f.pinyin_parts).toContain('tianjinshiyiyuan');
    expect(f.initials_parts).toEqual(expect.arrayContaining(['tjsyy', 'sdyrmyy']));
    expect(f.syllables.split(' ').slice(0, 2)).toEqual(['tian', 'jin']);
    expect(f.terms).toEqual(['三级甲等', '综合医院', '卒中中心']);
    expect(f.places).toEqual(['天津', '和平区']);
    expect(f.level_rank).toBe(6);
  });

  it('copes with a row missing columns', () => {
    expect(searchCnFields({ id: 1 })).toMatchObject({ name: '', aliases: [], pinyin: '', level_rank: 0 });
  });
});

describe('institutionSearchQuery', () => {
  const should = (q: string) =>
    JSON.stringify(
      (institutionSearchQuery({ q }) as { function_score: { query: { bool: { must: unknown } } } })
        .function_score.query.bool.must,
    );

  it('uses the pinyin fields for latin queries and the name fields for Chinese ones', () => {
    expect(should('TianJin')).toContain('"search_cn.pinyin.prefix":"tianjin"');
    expect(should('TianJin')).not.toContain('search_cn.name');
    expect(should('天津醫院')).toContain('"search_cn.name.exact":"天津医院"');
  });

  it('matches single characters anywhere only for one-character queries', () => {
    expect(should('天')).toContain('search_cn.name.chars');
    expect(should('天津')).not.toContain('search_cn.name.chars');
  });

  it('filters on active institutions and the city', () => {
    const q = JSON.stringify(institutionSearchQuery({ q: '医院', city: '北京' }));
    expect(q).toContain('{"term":{"status":"active"}}');
    expect(q).toContain('{"term":{"city":"北京"}}');
  });
});
