/**
 * The search engine's queries behind a DependencyGuard (outbound.ts): `search` goes through the
 * bulkhead and both breakers (error ratio: the engine unreachable, timing out, or answering
 * 5xx; slow-call ratio: above slowCallMs); every other method passes untouched (indexing runs in
 * the catalog projector, not here). A refusal is thrown as SearchUnavailableError, so the query
 * API's existing degradation applies unchanged: a fast 503 dependency_unavailable with Retry-After.
 */
import { SearchUnavailableError, type SearchEngine } from '../search/index.ts';
import { DependencyUnavailableError, type DependencyGuard, type DependencyGuardOptions } from './outbound.ts';

const status = (err: unknown) => (err as { meta?: { statusCode?: number } } | null)?.meta?.statusCode;

export const SEARCH_GUARD_DEFAULTS: DependencyGuardOptions = {
  timeoutMs: 0, // the engine client's own request timeout (1.5 s in the query API) applies
  concurrency: 64,
  queue: 256,
  errorRatio: 0.5,
  slowCallRatio: 0.8,
  slowCallMs: 800,
  windowMs: 10_000,
  minimumRps: 2,
  halfOpenAfterMs: 5000,
  isFailure: (err) => err instanceof SearchUnavailableError || (status(err) ?? 0) >= 500,
};

export function guardSearch(engine: SearchEngine, guard: DependencyGuard): SearchEngine {
  const search: SearchEngine['search'] = async (index, request) => {
    try {
      return await guard.execute(() => engine.search(index, request));
    } catch (err) {
      if (err instanceof DependencyUnavailableError) {
        throw new SearchUnavailableError(err.message, { cause: err });
      }
      throw err;
    }
  };
  return new Proxy(engine, {
    get(target, prop, receiver) {
      if (prop === 'search') return search;
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** For the options type's users: the defaults with overrides. */
export const searchGuardOptions = (
  overrides: Partial<DependencyGuardOptions> = {},
): DependencyGuardOptions => ({
  ...SEARCH_GUARD_DEFAULTS,
  ...overrides,
});
