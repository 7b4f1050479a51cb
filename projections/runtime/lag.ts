import type { Admin } from 'kafkajs';

export interface PartitionLag {
  topic: string;
  partition: number;
  high: number;
  committed: number | null;
  lag: number;
}

/**
 * Consumer-group lag: for every partition, high watermark − committed offset (a partition the
 * group never committed counts from its low watermark, i.e. a group that reads from the
 * beginning). The number of records the group has not yet processed and committed.
 */
export async function consumerGroupLag(
  admin: Admin,
  groupId: string,
  topics: readonly string[],
): Promise<{ total: number; partitions: PartitionLag[] }> {
  const partitions: PartitionLag[] = [];
  const committed = await admin.fetchOffsets({ groupId, topics: [...topics] });
  for (const topic of topics) {
    const watermarks = await admin.fetchTopicOffsets(topic);
    const groupOffsets = committed.find((t) => t.topic === topic)?.partitions ?? [];
    for (const w of watermarks) {
      const high = Number(w.high);
      const low = Number(w.low);
      const c = groupOffsets.find((p) => p.partition === w.partition);
      const offset = c && Number(c.offset) >= 0 ? Number(c.offset) : null;
      partitions.push({
        topic,
        partition: w.partition,
        high,
        committed: offset,
        lag: Math.max(0, high - Math.max(offset ?? low, low)),
      });
    }
  }
  return { total: partitions.reduce((sum, p) => sum + p.lag, 0), partitions };
}

/** High watermarks of every partition of `topics` right now, as `topic:partition → offset`. */
export async function highWatermarks(admin: Admin, topics: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const topic of topics) {
    for (const w of await admin.fetchTopicOffsets(topic)) out.set(`${topic}:${w.partition}`, Number(w.high));
  }
  return out;
}
