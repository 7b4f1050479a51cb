import type { Admin, Kafka } from 'kafkajs';
import { startSampler, type Sampler } from './sampler.ts';

/**
 * Whether the brokers answer, sampled in the background with its own admin client: a metadata
 * round trip every `intervalMs`, failed past `timeoutMs`. A broken connection is dropped and
 * reopened on the next sample, so the probe recovers with the broker. The value is the number
 * of brokers in the cluster.
 */
export function kafkaProbe(
  kafka: Kafka,
  opts: { intervalMs?: number; timeoutMs?: number } = {},
): Sampler<number> & { close(): Promise<void> } {
  let admin: Admin | undefined;
  let connected = false;
  const read = async (): Promise<number> => {
    admin ??= kafka.admin();
    try {
      if (!connected) {
        await admin.connect();
        connected = true;
      }
      return (await admin.describeCluster()).brokers.length;
    } catch (err) {
      const broken = admin;
      admin = undefined;
      connected = false;
      await broken.disconnect().catch(() => undefined);
      throw err;
    }
  };
  const sampler = startSampler({ name: 'kafka', read, ...opts });
  return {
    ...sampler,
    async close() {
      sampler.stop();
      connected = false;
      await admin?.disconnect().catch(() => undefined);
    },
  };
}
