import { describe, expect, it } from 'vitest';
import { bucketOf, principalOf, releaseTrack, subjectOf, trackOf } from '../../gateway/gray.ts';
import { parseShare } from '../../gateway/gray-store.ts';
import { applyServiceVersion } from '../../platform/telemetry.ts';

const tokenFor = (claims: object) =>
  `Bearer h.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.signature`;
const users = Array.from({ length: 10_000 }, (_, i) => `patient-${i}`);
const buckets = users.map((u) => bucketOf(`sub:${u}`));
const canaryShare = (share: number) =>
  buckets.filter((b) => trackOf(b, share) === 'canary').length / buckets.length;

describe('gray-release split', () => {
  it('given a share, sends about that share of users to the canary', () => {
    for (const share of [1, 10, 50, 90]) expect(canaryShare(share)).toBeCloseTo(share / 100, 1);
    expect(canaryShare(0)).toBe(0);
    expect(canaryShare(100)).toBe(1);
  });

  it('given a bearer token, places the user by its sub', () => {
    for (const [i, u] of users.slice(0, 200).entries()) {
      expect(releaseTrack({ authorization: tokenFor({ sub: u }), address: `10.0.0.${i % 250}` }, 30)).toBe(
        trackOf(buckets[i]!, 30),
      );
    }
  });

  it('given the same user, always the same track; raising the share never moves anyone back', () => {
    for (const [i, u] of users.slice(0, 500).entries()) {
      const b = bucketOf(`sub:${u}`);
      expect(b).toBe(buckets[i]);
      const tracks = [5, 20, 50, 80].map((s) => trackOf(b, s));
      expect(
        tracks.indexOf('canary') === -1 ||
          tracks.slice(tracks.indexOf('canary')).every((t) => t === 'canary'),
      ).toBe(true);
    }
  });

  it('given X-Release, the tester chooses the track whatever the share', () => {
    expect(releaseTrack({ release: 'canary' }, 0)).toBe('canary');
    expect(releaseTrack({ release: 'Stable' }, 100)).toBe('stable');
    expect(releaseTrack({ release: 'other', address: '10.0.0.1' }, 0)).toBe('stable');
  });

  it('given no token, places by the client_id cookie, else by the address', () => {
    expect(principalOf({ authorization: tokenFor({ sub: 'p-1' }), cookie: 'client_id=c' })).toBe('sub:p-1');
    expect(principalOf({ authorization: 'Bearer not-a-jwt', cookie: 'a=1; client_id=abc' })).toBe(
      'cookie:abc',
    );
    expect(principalOf({ address: '10.0.0.7' })).toBe('ip:10.0.0.7');
    expect(subjectOf(tokenFor({ role: 'admin' }))).toBeUndefined();
    expect(subjectOf('Bearer a.%%%.c')).toBeUndefined();
  });

  it('parses a share in percent, refusing what is not one', () => {
    expect(parseShare('50')).toBe(50);
    expect(parseShare('12.5%')).toBe(12.5);
    for (const bad of ['', '-1', '101', 'half']) expect(typeof parseShare(bad)).toBe('string');
  });

  it('puts SERVICE_VERSION on the traces as service.version, unless already given', () => {
    const env: NodeJS.ProcessEnv = {
      SERVICE_VERSION: '2.0.0-rc 1',
      OTEL_RESOURCE_ATTRIBUTES: 'team=booking',
    };
    applyServiceVersion(env);
    expect(env.OTEL_RESOURCE_ATTRIBUTES).toBe('team=booking,service.version=2.0.0-rc%201');
    const given: NodeJS.ProcessEnv = { SERVICE_VERSION: 'x', OTEL_RESOURCE_ATTRIBUTES: 'service.version=y' };
    applyServiceVersion(given);
    expect(given.OTEL_RESOURCE_ATTRIBUTES).toBe('service.version=y');
  });
});
