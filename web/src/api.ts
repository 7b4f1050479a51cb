/**
 * fetch against the gateway (same origin): JSON in, JSON out, problems as ApiError, the signed-in
 * patient's token when asked for. Commands carry the Idempotency-Key the caller keeps per attempt.
 */
import { ApiError } from './problems.ts';
import { session } from './session.ts';

export interface Answer<T> {
  status: number;
  data: T;
  headers: Headers;
}

export interface CallOptions {
  method?: 'GET' | 'POST';
  body?: unknown;
  auth?: boolean;
  idempotencyKey?: string;
  checkpoint?: string;
  signal?: AbortSignal;
}

async function problemOf(res: Response): Promise<ApiError> {
  const retry = res.headers.get('retry-after');
  const retryAfter = retry === null || Number.isNaN(Number(retry)) ? undefined : Number(retry);
  try {
    const p = (await res.json()) as { code?: string; detail?: string };
    return new ApiError(res.status, p.code ?? 'internal', p.detail, retryAfter);
  } catch {
    return new ApiError(res.status, 'internal', undefined, retryAfter);
  }
}

export async function call<T>(path: string, opts: CallOptions = {}): Promise<Answer<T>> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (opts.auth && session.value) headers.authorization = `Bearer ${session.value.token}`;
  if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
  if (opts.checkpoint) headers['booking-checkpoint'] = opts.checkpoint;
  let res: Response;
  try {
    res = await fetch(path, {
      method: opts.method ?? 'GET',
      headers,
      ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', undefined, undefined);
  }
  if (!res.ok) throw await problemOf(res);
  return { status: res.status, data: (await res.json()) as T, headers: res.headers };
}

export const get = <T>(path: string, opts: Omit<CallOptions, 'method' | 'body'> = {}) => call<T>(path, opts);
