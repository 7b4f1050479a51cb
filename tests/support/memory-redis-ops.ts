/**
 * An in-memory interpreter of the Redis writes the read models emit, with the same revision
 * guard as projections/redis/redis-writer.ts's script: for unit-testing the pure read models.
 */
import type { RedisOp } from '../../projections/redis/read-model.ts';

export class MemoryRedis {
  readonly hashes = new Map<string, Map<string, string>>();
  readonly zsets = new Map<string, Map<string, number>>();

  hash(key: string): Record<string, string> {
    return Object.fromEntries(this.hashes.get(key) ?? []);
  }

  zrange(key: string): string[] {
    return [...(this.zsets.get(key) ?? [])]
      .sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1))
      .map(([m]) => m);
  }

  zscore(key: string, member: string): number | undefined {
    return this.zsets.get(key)?.get(member);
  }

  /** The guarded apply: 1 applied, 0 already applied, -1 conflict. */
  apply(guardKey: string, fromRev: number, toRev: number, ops: RedisOp[]): number {
    const cur = Number(this.hashes.get(guardKey)?.get('rev') ?? -1);
    if (cur >= toRev) return 0;
    if (cur !== fromRev) return -1;
    for (const op of ops) this.run(op);
    this.run({ cmd: 'HSET', key: guardKey, args: ['rev', String(toRev)] });
    return 1;
  }

  run(op: RedisOp): void {
    switch (op.cmd) {
      case 'HSET': {
        const h = this.hashes.get(op.key) ?? new Map<string, string>();
        for (let i = 0; i < op.args.length; i += 2) h.set(op.args[i]!, op.args[i + 1]!);
        this.hashes.set(op.key, h);
        break;
      }
      case 'HINCRBY': {
        const h = this.hashes.get(op.key) ?? new Map<string, string>();
        h.set(op.args[0], String(Number(h.get(op.args[0]) ?? 0) + Number(op.args[1])));
        this.hashes.set(op.key, h);
        break;
      }
      case 'ZADD': {
        const z = this.zsets.get(op.key) ?? new Map<string, number>();
        z.set(op.args[1], Number(op.args[0]));
        this.zsets.set(op.key, z);
        break;
      }
      case 'ZINCRBY': {
        const z = this.zsets.get(op.key) ?? new Map<string, number>();
        z.set(op.args[1], (z.get(op.args[1]) ?? 0) + Number(op.args[0]));
        this.zsets.set(op.key, z);
        break;
      }
      case 'ZREM':
        this.zsets.get(op.key)?.delete(op.args[0]);
        break;
      default:
        break;
    }
  }
}
