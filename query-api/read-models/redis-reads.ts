import type { RedisClient } from '../../platform/redis.ts';
import { AppError } from '../../platform/http/errors.ts';

/** Every Redis failure on the read path becomes one 503 with Retry-After (or a stale copy upstream). */
export class ReadModelUnavailable extends AppError {
  constructor(cause: unknown) {
    super('dependency_unavailable', 'The read models are unavailable; retry shortly', {
      headers: { 'Retry-After': '1' },
      cause,
    });
  }
}

export async function guardRedis<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new ReadModelUnavailable(err);
  }
}

/** Runs a pipeline and unwraps results, failing on the first command error. */
export async function execPipeline(
  redis: RedisClient,
  build: (p: ReturnType<RedisClient['pipeline']>) => void,
): Promise<unknown[]> {
  const pipeline = redis.pipeline();
  build(pipeline);
  const results = (await pipeline.exec()) ?? [];
  return results.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

/** Collects the Redis keys a response was built from, for invalidation. */
export class Deps {
  readonly keys = new Set<string>();
  add(...keys: string[]): this {
    for (const k of keys) this.keys.add(k);
    return this;
  }
  list(): string[] {
    return [...this.keys];
  }
}
