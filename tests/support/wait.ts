import { randomBytes } from 'node:crypto';
import { runTag } from './test-run.ts';

/**
 * A fresh name per test so tests never share topics, tables, indices or keys; it starts with the
 * run's tag so the global teardown can find and remove whatever carries it.
 */
export const uniqueName = (prefix: string): string =>
  `${runTag()}${prefix}_${randomBytes(5).toString('hex')}`;

/** Polls `probe` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 20_000, intervalMs = 100, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
