/**
 * Every institution's sender, kept in step with the endpoints table: re-read every
 * DELIVERY_CONFIG_POLL_MS, a new institution gets its loop, a removed one's loop stops, a changed
 * one is used as it is now (its guard rebuilt when its timeout or concurrency changed).
 */
import type { Logger } from '../platform/logger.ts';
import type { Pool } from '../platform/pg.ts';
import { type Endpoint, loadEndpoints } from './endpoints.ts';
import { InstitutionSender, type SenderDeps } from './institution-sender.ts';

export interface Senders {
  /** Reads the table once now (start-up, tests). */
  refresh(): Promise<void>;
  wake(institutionId: string): void;
  all(): readonly InstitutionSender[];
  get(institutionId: string): InstitutionSender | undefined;
  /** Milliseconds since the endpoints were last read successfully. */
  configAgeMs(): number;
  stop(): Promise<void>;
}

export function createSenders(
  deps: Omit<SenderDeps, 'endpointOf'> & { pool: Pool; logger: Logger },
): Senders {
  let endpoints = new Map<string, Endpoint>();
  const senders = new Map<string, InstitutionSender>();
  let lastRead = Date.now();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const senderDeps: SenderDeps = { ...deps, endpointOf: (id) => endpoints.get(id) };

  const refresh = async () => {
    endpoints = await loadEndpoints(deps.pool);
    lastRead = Date.now();
    for (const id of endpoints.keys()) {
      if (senders.has(id) || stopped) continue;
      const s = new InstitutionSender(id, senderDeps);
      senders.set(id, s);
      s.start();
    }
    for (const [id, s] of senders) {
      if (endpoints.has(id)) continue;
      senders.delete(id);
      void s.stop();
    }
  };
  const poll = () => {
    timer = setTimeout(() => {
      refresh()
        .catch((err: unknown) =>
          deps.logger.warn({ err }, 'reading institution endpoints failed; retried next poll'),
        )
        .finally(() => {
          if (!stopped) poll();
        });
    }, deps.settings.DELIVERY_CONFIG_POLL_MS);
  };
  poll();

  return {
    refresh,
    wake: (id) => senders.get(id)?.wake(),
    all: () => [...senders.values()],
    get: (id) => senders.get(id),
    configAgeMs: () => Date.now() - lastRead,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await Promise.all([...senders.values()].map((s) => s.stop()));
    },
  };
}
