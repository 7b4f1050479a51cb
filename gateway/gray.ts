/**
 * Pure gray-release routing (docs/adr/0021): which track — the stable build or the canary beside
 * it — serves a request.
 *
 * A tester forces a track with `X-Release: canary` (or `stable`). Everyone else is placed by a
 * stable hash of their principal into one of 10,000 buckets; the canary takes the buckets below
 * share × 100. The split is therefore sticky (the same user stays on the same build, request after
 * request and across gateway instances, as no state is kept) and monotonic (raising the share only
 * moves users from stable to canary, never back, so nobody flips between builds as it grows).
 *
 * The principal: the JWT's `sub` when a bearer token is sent (decoded, not verified: it only
 * chooses a build; the API behind verifies it as always), else the `client_id` cookie, else the
 * caller's address.
 */
import { createHash } from 'node:crypto';
import type { Track } from './balancer.ts';

export const RELEASE_HEADER = 'x-release';
export const CLIENT_COOKIE = 'client_id';
const BUCKETS = 10_000;

/** Pure: the bucket (0..9999) of a principal; a hash that spreads similar ids (`patient-1`, `-2`) evenly. */
export function bucketOf(principal: string): number {
  return createHash('sha256').update(principal).digest().readUInt32BE(0) % BUCKETS;
}

/** Pure: the track of a bucket at a canary share in percent (0..100). */
export function trackOf(bucket: number, sharePercent: number): Track {
  return bucket < Math.round(sharePercent * (BUCKETS / 100)) ? 'canary' : 'stable';
}

/** The `sub` claim of a bearer token, without verifying it (routing only). */
export function subjectOf(authorization: string | undefined): string | undefined {
  const match = /^Bearer\s+([^.\s]+)\.([^.\s]+)\./i.exec(authorization ?? '');
  if (!match?.[2]) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(match[2], 'base64url').toString('utf8')) as { sub?: unknown };
    return typeof claims.sub === 'string' && claims.sub !== '' ? claims.sub : undefined;
  } catch {
    return undefined;
  }
}

function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim() || undefined;
  }
  return undefined;
}

export interface RequestFacts {
  authorization?: string | undefined;
  cookie?: string | undefined;
  release?: string | undefined;
  address?: string | undefined;
}

/** Pure: who the request is for, as routing sees it (`sub:…`, `cookie:…`, `ip:…`). */
export function principalOf(facts: RequestFacts): string {
  const sub = subjectOf(facts.authorization);
  if (sub) return `sub:${sub}`;
  const client = cookie(facts.cookie, CLIENT_COOKIE);
  if (client) return `cookie:${client}`;
  return `ip:${facts.address ?? ''}`;
}

/** Pure: the track a request goes to: the tester's header, else the principal's bucket. */
export function releaseTrack(facts: RequestFacts, sharePercent: number): Track {
  const forced = facts.release?.trim().toLowerCase();
  if (forced === 'canary' || forced === 'stable') return forced;
  if (sharePercent <= 0) return 'stable';
  if (sharePercent >= 100) return 'canary';
  return trackOf(bucketOf(principalOf(facts)), sharePercent);
}
