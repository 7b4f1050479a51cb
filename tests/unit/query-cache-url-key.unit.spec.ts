import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { isTrackingParam, normaliseUrl } from '../../query-api/cache/url-key.ts';
import { FastRoutes } from '../../query-api/fast-path.ts';

const req = (url: string) => ({ url }) as IncomingMessage;

describe('normaliseUrl', () => {
  it('sorts parameters by name and keeps a path without a query as it is', () => {
    expect(normaliseUrl('/v1/institutions?limit=20&city=x')).toBe('/v1/institutions?city=x&limit=20');
    expect(normaliseUrl('/v1/institutions/42')).toBe('/v1/institutions/42');
  });

  it('drops tracking tags, and the "?" when nothing else is left', () => {
    expect(normaliseUrl('/v1/homepage?utm_source=wechat&city=%E5%8E%A6%E9%97%A8&fbclid=abc&gclid=1')).toBe(
      '/v1/homepage?city=%E5%8E%A6%E9%97%A8',
    );
    expect(normaliseUrl('/v1/institutions/42?utm_campaign=spring')).toBe('/v1/institutions/42');
  });

  it('keeps other unknown parameters, so the strict schemas still name a mistyped one', () => {
    expect(normaliseUrl('/v1/institutions?limt=5&city=x')).toBe('/v1/institutions?city=x&limt=5');
  });

  it('keeps repeated parameters in their order (the schema refuses them as it did before)', () => {
    expect(normaliseUrl('/v1/homepage?city=b&city=a')).toBe('/v1/homepage?city=b&city=a');
  });

  it('writes one encoding for the same values', () => {
    expect(normaliseUrl('/v1/homepage?city=厦门')).toBe(normaliseUrl('/v1/homepage?city=%E5%8E%A6%E9%97%A8'));
    expect(normaliseUrl('/v1/search/institutions?q=a%20b')).toBe(
      normaliseUrl('/v1/search/institutions?q=a+b'),
    );
  });

  it('is idempotent', () => {
    const once = normaliseUrl('/v1/institutions?utm_medium=x&limit=5&city=%E5%8E%A6&cursor=ab-_c');
    expect(normaliseUrl(once)).toBe(once);
  });

  it('knows the usual tracking tags, case-insensitively, and nothing the API reads', () => {
    for (const name of [
      'utm_source',
      'UTM_Medium',
      'utm_content',
      'fbclid',
      'gclid',
      'msclkid',
      '_ga',
      'spm',
    ]) {
      expect(isTrackingParam(name), name).toBe(true);
    }
    for (const name of ['city', 'limit', 'cursor', 'q', 'from', 'to', 'level', 'category', 'utm']) {
      expect(isTrackingParam(name), name).toBe(false);
    }
  });
});

describe('FastRoutes', () => {
  it('finds a remembered URL under another parameter order or with tracking tags, one entry for all', () => {
    const routes = new FastRoutes();
    routes.remember('/v1/institutions?city=x&limit=20', 'institutions:x::20', '/v1/institutions');
    const tagged = req('/v1/institutions?utm_source=a&limit=20&city=x&fbclid=1');
    expect(routes.lookup(tagged)?.key).toBe('institutions:x::20');
    // The request now carries the canonical URL (what Express will see if it gets the request).
    expect(tagged.url).toBe('/v1/institutions?city=x&limit=20');
    expect(routes.lookup(req('/v1/institutions?limit=20&city=x'))?.key).toBe('institutions:x::20');
  });

  it('remembers under the canonical form whatever form the validated request had', () => {
    const routes = new FastRoutes();
    routes.remember('/v1/homepage?utm_source=a&city=x', 'homepage:x', '/v1/homepage');
    expect(routes.lookup(req('/v1/homepage?city=x'))?.key).toBe('homepage:x');
  });

  it('does not find what was never validated', () => {
    const routes = new FastRoutes();
    routes.remember('/v1/institutions?city=x', 'k', '/v1/institutions');
    expect(routes.lookup(req('/v1/institutions?city=y'))).toBeUndefined();
    expect(routes.lookup(req('/v1/institutions?city=x&foo=1'))).toBeUndefined();
  });

  it("remembers a URL only until it stops naming its key (a key with today's date: midnight)", () => {
    const routes = new FastRoutes();
    routes.remember('/v1/homepage?city=x', 'homepage:x:2026-01-01', '/v1/homepage', Date.now() + 60_000);
    routes.remember('/v1/homepage?city=y', 'homepage:y:2025-12-31', '/v1/homepage', Date.now() - 1);
    expect(routes.lookup(req('/v1/homepage?city=x'))?.key).toBe('homepage:x:2026-01-01');
    expect(routes.lookup(req('/v1/homepage?city=y'))).toBeUndefined();
  });
});
