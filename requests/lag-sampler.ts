/**
 * The processor group's lag on `booking.requests`, sampled in the background with its own admin
 * client (projections/runtime/lag.ts computes it): a broken connection is dropped and reopened on
 * the next sample, so the sampler recovers with the broker.
 */
import type { Kafka } from 'kafkajs';
import { adminSampler, type AdminSampler } from '../platform/kafka-probe.ts';
import { consumerGroupLag, type PartitionLag } from '../projections/runtime/lag.ts';

export type GroupLag = { total: number; partitions: PartitionLag[] };

export const groupLagSampler = (
  kafka: Kafka,
  opts: {
    groupId: string;
    topic: string;
    intervalMs?: number;
    timeoutMs?: number;
    onSample?: (l: GroupLag) => void;
  },
): AdminSampler<GroupLag> =>
  adminSampler(kafka, {
    name: 'lag',
    intervalMs: opts.intervalMs ?? 5_000,
    timeoutMs: opts.timeoutMs ?? 2_000,
    read: async (admin) => {
      const lag = await consumerGroupLag(admin, opts.groupId, [opts.topic]);
      opts.onSample?.(lag);
      return lag;
    },
  });
