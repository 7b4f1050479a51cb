import type { Admin, Kafka } from 'kafkajs';
import { startSampler, type Sampler, type SamplerOptions } from './sampler.ts';

export type AdminSampler<T> = Sampler<T> & { close(): Promise<void> };

/**
 * A value read through a Kafka admin client of its own, sampled in the background: a broken
 * connection is dropped and reopened on the next sample, so the sampler recovers with the broker.
 */
export function adminSampler<T>(
  kafka: Kafka,
  opts: Omit<SamplerOptions<T>, 'read'> & { read: (admin: Admin) => Promise<T> },
): AdminSampler<T> {
  let admin: Admin | undefined;
  let connected = false;
  const read = async (): Promise<T> => {
    admin ??= kafka.admin();
    try {
      if (!connected) {
        await admin.connect();
        connected = true;
      }
      return await opts.read(admin);
    } catch (err) {
      const broken = admin;
      admin = undefined;
      connected = false;
      await broken.disconnect().catch(() => undefined);
      throw err;
    }
  };
  const sampler = startSampler({ ...opts, read });
  return {
    ...sampler,
    async close() {
      sampler.stop();
      connected = false;
      await admin?.disconnect().catch(() => undefined);
    },
  };
}

/**
 * Whether the brokers answer: a metadata round trip every `intervalMs`, failed past `timeoutMs`.
 * The value is the number of brokers in the cluster.
 */
export const kafkaProbe = (
  kafka: Kafka,
  opts: { intervalMs?: number; timeoutMs?: number } = {},
): AdminSampler<number> =>
  adminSampler(kafka, {
    name: 'kafka',
    ...opts,
    read: async (admin) => (await admin.describeCluster()).brokers.length,
  });
