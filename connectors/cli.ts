/**
 * Applies and operates the catalog source connector through the Kafka Connect REST API.
 *
 *   npm run connectors -- apply      # validate, create or update (PUT config: idempotent), wait RUNNING
 *   npm run connectors -- status     # connector and task states, replication slot and retained WAL
 *   npm run connectors -- restart    # restart the connector and its FAILED tasks only
 *   npm run connectors -- delete [--drop-slot]   # delete; optionally drop its slot and publication
 *   npm run connectors -- render     # print the rendered config (password masked)
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../platform/config.ts';
import {
  catalogConnector,
  catalogConnectorSettings,
  dropReplication,
  slotState,
} from './catalog-connector.ts';
import { ConnectClient } from './connect-client.ts';

const USAGE = 'usage: npm run connectors -- apply|status|restart|delete [--drop-slot]|render';

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { 'drop-slot': { type: 'boolean', default: false }, timeout: { type: 'string' } },
  });
  const command = positionals[0];
  const config = loadConfig();
  const settings = catalogConnectorSettings(config);
  const connect = new ConnectClient(config.KAFKA_CONNECT_URL);
  const { name, config: connectorConfig } = catalogConnector(settings);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const timeoutMs = Number(values.timeout ?? 60_000);

  switch (command) {
    case 'render': {
      out(JSON.stringify({ name, config: { ...connectorConfig, 'database.password': '****' } }, null, 2));
      return 0;
    }
    case 'apply': {
      const errors = await connect.validate(connectorConfig['connector.class'] ?? '', {
        ...connectorConfig,
        name,
      });
      if (errors.length > 0) {
        out(`connector config rejected by Connect:\n  ${errors.join('\n  ')}`);
        return 1;
      }
      const { created } = await connect.apply(name, connectorConfig);
      out(`${name}: ${created ? 'created' : 'updated (or unchanged)'}; waiting for RUNNING…`);
      const status = await connect.waitRunning(name, timeoutMs);
      out(`${name}: ${status.connector.state}, tasks ${status.tasks.map((t) => t.state).join(',')}`);
      out(
        `topics: ${settings.topicPrefix}.public.<table>, heartbeats: __debezium-heartbeat.${settings.topicPrefix}`,
      );
      return 0;
    }
    case 'status': {
      const status = await connect.status(name);
      if (!status) {
        out(`${name}: not registered (npm run connectors -- apply)`);
        return 1;
      }
      out(`${name}: connector ${status.connector.state} on ${status.connector.worker_id}`);
      for (const t of status.tasks) {
        out(`  task ${t.id}: ${t.state}${t.trace ? ` — ${t.trace.split('\n')[0] ?? ''}` : ''}`);
      }
      const slot = await slotState(settings.databaseUrl, settings.slot);
      out(
        slot
          ? `slot ${slot.slot}: ${slot.active ? 'active' : 'inactive'}, confirmed ${slot.confirmedFlushLsn ?? '-'}, retains ${slot.retainedBytes} bytes of WAL`
          : `slot ${settings.slot}: absent (created on first start)`,
      );
      const failed = [status.connector, ...status.tasks].some((t) => t.state === 'FAILED');
      return failed ? 2 : 0;
    }
    case 'restart': {
      await connect.restartFailed(name);
      const status = await connect.waitRunning(name, timeoutMs);
      out(`${name}: ${status.connector.state}, tasks ${status.tasks.map((t) => t.state).join(',')}`);
      return 0;
    }
    case 'delete': {
      await connect.delete(name);
      out(`${name}: deleted (its offsets stay in Connect's offset topic)`);
      if (values['drop-slot']) {
        await dropReplication(settings.databaseUrl, settings.slot, settings.publication);
        out(`dropped slot ${settings.slot} and publication ${settings.publication}`);
      } else {
        out(`slot ${settings.slot} kept: it retains WAL until dropped (--drop-slot)`);
      }
      return 0;
    }
    default:
      out(USAGE);
      return 64;
  }
}

try {
  process.exitCode = await main();
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
