/**
 * The processor group's lag on `booking.requests`, sampled in the background with its own admin
 * client (projections/runtime/lag.ts computes it): a broken connection is dropped and reopened on
 * the next sample, so the sampler recovers with the broker.
 */
import type { Admin, Kafka } from 'kafkajs';
import { startSampler, type Sampler } from '../platform/sampler.ts';
import { consumerGroupLag, type PartitionLag } from '../projections/runtime/lag.ts';

export type GroupLag = { total: number; partitions: PartitionLag[] };

export function groupLagSampler(
  kafka: Kafka,
  opts: {
    groupId: string;
    topic: string;
    intervalMs?: number;
    timeoutMs?: number;
    onSample?: (l: GroupLag) => void;
  },
): Sampler<GroupLag> & { close(): Promise<void> } {
  let admin: Admin | undefined;
  let connected = false;
  const read = async (): Promise<GroupLag> => {
    admin ??= kafka.admin();
    try {
      if (!connected) {
        await admin.connect();
        connected = true;
      }
      const lag = await consumerGroupLag(admin, opts.groupId, [opts.topic]);
      opts.onSample?.(lag);
      return lag;
    } catch (err) {
      const broken = admin;
      admin = undefined;
      connected = false;
      await broken.disconnect().catch(() => undefined);
      throw err;
    }
  };
  const sampler = startSampler({
    name: 'lag',
    read,
    intervalMs: opts.intervalMs ?? 5_000,
    timeoutMs: opts.timeoutMs ?? 2_000,
  });
  return {
    ...sampler,
    async close() {
      sampler.stop();
      connected = false;
      await admin?.disconnect().catch(() => undefined);
    },
  };
}
