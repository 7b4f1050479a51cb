import type { Admin } from 'kafkajs';

/**
 * Waits until every topic exists and each of its partitions has a leader. The Connect worker
 * creates the catalog topics when the connector first writes to them; a consumer that joins
 * its group before that gets no partitions and only notices them at its next metadata refresh.
 */
export async function waitForTopics(
  admin: Admin,
  topics: readonly string[],
  opts: { timeoutMs?: number; signal?: AbortSignal; onWait?: (missing: string[]) => void } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? Number.POSITIVE_INFINITY);
  let lastReport = 0;
  for (;;) {
    const existing = new Set(await admin.listTopics());
    let missing = topics.filter((t) => !existing.has(t));
    if (missing.length === 0) {
      const { topics: meta } = await admin.fetchTopicMetadata({ topics: [...topics] });
      missing = meta
        .filter((t) => t.partitions.length === 0 || t.partitions.some((p) => p.leader < 0))
        .map((t) => t.name);
      if (missing.length === 0) return;
    }
    if (opts.signal?.aborted) throw new Error('stopped while waiting for topics');
    if (Date.now() > deadline) throw new Error(`topics not ready: ${missing.join(', ')}`);
    if (Date.now() - lastReport > 10_000) {
      opts.onWait?.(missing);
      lastReport = Date.now();
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
