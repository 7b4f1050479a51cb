/**
 * Start-up step for `npm start`: registers (or updates) the catalog source connector and waits
 * until it runs. Idempotent: PUT /connectors/<name>/config with an unchanged config is a no-op.
 */
import type { Config } from '../platform/config.ts';
import { catalogConnector, catalogConnectorSettings } from './catalog-connector.ts';
import { ConnectClient } from './connect-client.ts';

export async function applyConnectors(
  config: Pick<Config, 'DATABASE_URL' | 'KAFKA_CONNECT_URL'>,
  opts: { timeoutMs?: number; env?: Record<string, string | undefined> } = {},
): Promise<{ name: string; created: boolean }> {
  const connect = new ConnectClient(config.KAFKA_CONNECT_URL);
  const { name, config: connectorConfig } = catalogConnector(catalogConnectorSettings(config, opts.env));
  const { created } = await connect.apply(name, connectorConfig);
  await connect.waitRunning(name, opts.timeoutMs ?? 120_000);
  return { name, created };
}
