/**
 * Bearer-token authentication: HS256 JWTs (jose) carrying `sub`, `role` and, for hospitals, the
 * `institutionId` they act for. The verified principal
 * is attached to the request and read with `principalOf(req)`.
 */
import type { Request, RequestHandler } from 'express';
import { errors as joseErrors, decodeJwt, jwtVerify, SignJWT } from 'jose';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { jwtKeysOf, type Config, type JwtKey } from '../config.ts';
import { AppError } from './errors.ts';
import { invalidTextReason } from './text.ts';

export const roles = ['patient', 'hospital', 'admin'] as const;
export type Role = (typeof roles)[number];

export interface Principal {
  sub: string;
  role: Role;
  /** The institution a hospital principal acts for (claim `institutionId`); only hospitals carry one. */
  institutionId?: string;
}

const claimsSchema = z
  .object({
    sub: z
      .string()
      .min(1)
      .max(128)
      .refine((s) => invalidTextReason(s) === undefined, 'sub contains a NUL character or invalid Unicode'),
    role: z.enum(roles),
    institutionId: z
      .string()
      .regex(/^[0-9]{1,18}$/, 'a catalog institution id')
      .optional(),
  })
  .refine((c) => (c.role === 'hospital') === (c.institutionId !== undefined), {
    message: 'institutionId is required for role hospital and allowed for no other role',
  })
  .transform(({ sub, role, institutionId }): Principal =>
    institutionId === undefined ? { sub, role } : { sub, role, institutionId },
  );

/** The patient vault's keyed digest of a patient id (platform/patient-vault.ts). */
export interface PatientDigest {
  digest(patientId: string): string;
}

/**
 * Who owns per-principal state such as Idempotency-Keys: role, tenant (institutionId) and subject,
 * not `sub` alone, so an admin whose sub equals a hospital's never sees that hospital's keys.
 * A patient's sub is their patient id, and the scope is stored in clear (idempotency_keys,
 * booking_requests): it carries the vault's keyed digest instead (docs/adr/0010), as
 * `patient:#:<digest>` — `#` is no institution id nor the `-` of a raw scope, so it never equals
 * a scope holding a sub. Unambiguous: role and institutionId hold no `:`, and sub comes last.
 */
export const principalScope = (principal: Principal, patients: PatientDigest): string =>
  principal.role === 'patient'
    ? `patient:#:${patients.digest(principal.sub)}`
    : `${principal.role}:${principal.institutionId ?? '-'}:${principal.sub}`;

const principals = new WeakMap<Request, Principal>();

const secretKey = (secret: string): Uint8Array => new TextEncoder().encode(secret);

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="booking"' };
const INVALID_TOKEN = { 'WWW-Authenticate': `Bearer realm="booking", error="invalid_token"` };

/** Seconds of clock skew tolerated between the token's issuer and this process. */
export const CLOCK_TOLERANCE_SECONDS = 5;

/** How tokens are signed and verified (JWT_KEYS or JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE, JWT_MAX_TTL_SECONDS). */
export interface JwtSettings {
  /** HS256 keys by kid: the first signs, every one verifies (rotation). */
  keys: readonly JwtKey[];
  issuer: string;
  audience: string;
  /** A token whose exp - iat exceeds this is refused (and never minted). */
  maxTtlSeconds: number;
}

export const JWT_DEFAULTS = {
  issuer: 'booking-platform',
  audience: 'booking-api',
  maxTtlSeconds: 86_400,
} as const;

/** A bare secret means one key (kid `default`) with the default issuer, audience and lifetime. */
export type JwtInput = string | JwtSettings;

export const jwtSettings = (input: JwtInput): JwtSettings =>
  typeof input === 'string' ? { keys: [{ kid: 'default', secret: input }], ...JWT_DEFAULTS } : input;

/** The JWT settings of a configuration (fields a caller leaves out take their defaults). */
export function jwtSettingsOf(
  config: Pick<Config, 'JWT_SECRET'> &
    Partial<Pick<Config, 'JWT_KEYS' | 'JWT_ISSUER' | 'JWT_AUDIENCE' | 'JWT_MAX_TTL_SECONDS'>>,
): JwtSettings {
  return {
    keys: jwtKeysOf(config),
    issuer: config.JWT_ISSUER ?? JWT_DEFAULTS.issuer,
    audience: config.JWT_AUDIENCE ?? JWT_DEFAULTS.audience,
    maxTtlSeconds: config.JWT_MAX_TTL_SECONDS ?? JWT_DEFAULTS.maxTtlSeconds,
  };
}

const unauthenticated = (detail: string): AppError =>
  new AppError('unauthenticated', detail, { headers: INVALID_TOKEN });

/** Why a verified token's lifetime is refused, or undefined when it is within bounds. */
export function lifetimeProblem(
  claims: { iat?: number; exp?: number },
  maxTtlSeconds: number,
  nowSeconds: number,
): string | undefined {
  if (typeof claims.iat !== 'number' || typeof claims.exp !== 'number') return 'Token lacks iat or exp';
  if (claims.iat > nowSeconds + CLOCK_TOLERANCE_SECONDS) return 'Token issued in the future (iat)';
  if (claims.exp - claims.iat > maxTtlSeconds) {
    return `Token lifetime (exp - iat) exceeds the maximum of ${maxTtlSeconds} s`;
  }
  return undefined;
}

function describeJoseError(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'Token expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'iss') return 'Token issuer (iss) not accepted';
    if (err.claim === 'aud') return 'Token audience (aud) not accepted';
    if (err.reason === 'missing') return `Token lacks the ${err.claim} claim`;
    return `Token claim ${err.claim} is invalid`;
  }
  return 'Invalid token';
}

export async function verifyToken(token: string, jwt: JwtInput): Promise<Principal> {
  const settings = jwtSettings(jwt);
  try {
    const { payload } = await jwtVerify(
      token,
      (header) => {
        // A token without kid predates rotation: it can only mean the compatibility key.
        const kid = header.kid ?? 'default';
        const key = settings.keys.find((k) => k.kid === kid);
        if (!key) throw unauthenticated('Token signed with an unknown key (kid)');
        return secretKey(key.secret);
      },
      {
        algorithms: ['HS256'],
        issuer: settings.issuer,
        audience: settings.audience,
        requiredClaims: ['exp', 'iat'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      },
    );
    const lifetime = lifetimeProblem(payload, settings.maxTtlSeconds, Math.floor(Date.now() / 1000));
    if (lifetime) throw unauthenticated(lifetime);
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) {
      throw new AppError('unauthenticated', 'Token lacks a valid sub, role or institutionId claim', {
        headers: CHALLENGE,
      });
    }
    return claims.data;
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw unauthenticated(describeJoseError(err));
  }
}

/** Signs with the first key (its kid in the header), iss, aud, iat and an exp within the maximum lifetime. */
export async function signToken(
  jwt: JwtInput,
  principal: Principal,
  opts: { expiresIn?: string | number } = {},
): Promise<string> {
  const settings = jwtSettings(jwt);
  const key = settings.keys[0];
  if (!key) throw new Error('no JWT signing key');
  const claims =
    principal.institutionId === undefined
      ? { role: principal.role }
      : { role: principal.role, institutionId: principal.institutionId };
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: key.kid })
    .setSubject(principal.sub)
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setIssuedAt()
    .setExpirationTime(opts.expiresIn ?? '1h')
    .sign(secretKey(key.secret));
  const lifetime = lifetimeProblem(decodeJwt(token), settings.maxTtlSeconds, Math.floor(Date.now() / 1000));
  if (lifetime) throw new Error(`${lifetime}: choose a shorter expiry`);
  return token;
}

export interface AuthenticateOptions {
  /** The keys and checks (a bare secret: one key, the default issuer, audience and lifetime). */
  jwt: JwtInput;
  /**
   * Verified tokens are remembered by their exact string for at most this long (and never past
   * their `exp`), so a client reusing its token skips the HMAC verification (WebCrypto through
   * jose: ~10% of a booking command's CPU). 0 disables the cache. Default 60 s.
   */
  cacheTtlMs?: number;
  /** Most tokens remembered. Default 10,000. */
  cacheMax?: number;
}

/** 401 unless a valid `Authorization: Bearer <jwt>` is present. */
export function authenticate(opts: AuthenticateOptions): RequestHandler {
  const ttl = opts.cacheTtlMs ?? 60_000;
  // Only successful verifications are cached, keyed by the whole token (signature included), for
  // one set of JWT settings (fixed per middleware, so the token string is the whole key: its kid,
  // iss, aud, iat and exp are all inside it): the same string verified once verifies again until it expires. An entry is good
  // until min(now + ttl, exp) (without the verifier's clock tolerance, checked against Date.now()
  // on every read), so an expired token is re-verified and rejected exactly as before.
  const verified =
    ttl > 0
      ? new LRUCache<string, { principal: Principal; until: number }>({ max: opts.cacheMax ?? 10_000 })
      : undefined;
  return async (req, _res, next) => {
    const header = req.header('authorization');
    const match = header ? /^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(header) : null;
    const token = match?.[1];
    if (!token) throw new AppError('unauthenticated', 'Missing bearer token', { headers: CHALLENGE });
    const now = Date.now();
    const cached = verified?.get(token);
    let principal: Principal;
    if (cached && now < cached.until) {
      principal = cached.principal;
    } else {
      principal = await verifyToken(token, opts.jwt);
      const { exp } = decodeJwt(token); // required and checked by verifyToken
      const until = Math.min(now + ttl, (exp ?? 0) * 1000);
      if (verified && until > now) verified.set(token, { principal, until });
    }
    principals.set(req, principal);
    next();
  };
}

export function principalOf(req: Request): Principal {
  const principal = principals.get(req);
  if (!principal) throw new AppError('unauthenticated', 'Missing bearer token', { headers: CHALLENGE });
  return principal;
}

/** 403 unless the authenticated principal has one of `allowed`. */
export function requireRole(...allowed: Role[]): RequestHandler {
  return (req, _res, next) => {
    const principal = principalOf(req);
    if (!allowed.includes(principal.role)) {
      throw new AppError('forbidden', `Role ${principal.role} may not do this`);
    }
    next();
  };
}
