/**
 * Bearer-token authentication: HS256 JWTs (jose) carrying `sub`, `role` and, for hospitals, the
 * `institutionId` they act for. The verified principal
 * is attached to the request and read with `principalOf(req)`.
 */
import type { Request, RequestHandler } from 'express';
import { errors as joseErrors, decodeJwt, jwtVerify, SignJWT } from 'jose';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { AppError } from './errors.ts';

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
    sub: z.string().min(1).max(128),
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

const principals = new WeakMap<Request, Principal>();

const secretKey = (secret: string): Uint8Array => new TextEncoder().encode(secret);

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="booking"' };

export async function verifyToken(token: string, secret: string): Promise<Principal> {
  try {
    const { payload } = await jwtVerify(token, secretKey(secret), {
      algorithms: ['HS256'],
      requiredClaims: ['exp'],
      clockTolerance: 5,
    });
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) {
      throw new AppError('unauthenticated', 'Token lacks a valid sub, role or institutionId claim', {
        headers: CHALLENGE,
      });
    }
    return claims.data;
  } catch (err) {
    if (err instanceof AppError) throw err;
    const expired = err instanceof joseErrors.JWTExpired;
    throw new AppError('unauthenticated', expired ? 'Token expired' : 'Invalid token', {
      headers: { 'WWW-Authenticate': `Bearer realm="booking", error="invalid_token"` },
    });
  }
}

export async function signToken(
  secret: string,
  principal: Principal,
  opts: { expiresIn?: string | number } = {},
): Promise<string> {
  const claims =
    principal.institutionId === undefined
      ? { role: principal.role }
      : { role: principal.role, institutionId: principal.institutionId };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(principal.sub)
    .setIssuedAt()
    .setExpirationTime(opts.expiresIn ?? '1h')
    .sign(secretKey(secret));
}

export interface AuthenticateOptions {
  secret: string;
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
  // one secret: the same string verified once verifies again until it expires. An entry is good
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
      principal = await verifyToken(token, opts.secret);
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
