/**
 * The gateway's settings: its port and where the two APIs and the built web app are. Defaults
 * match `npm start` (command API 3001, query API 3002, gateway 3005, web/dist of this checkout).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { Config } from '../platform/config.ts';

const schema = z.object({
  GATEWAY_PORT: z.coerce.number().int().min(0).max(65535).default(3005),
  COMMAND_API_URL: z.url().optional(),
  QUERY_API_URL: z.url().optional(),
  WEB_ROOT: z.string().min(1).optional(),
  /** name=adminUrl pairs the ops page reads /metrics from (default: every service of `npm start`). */
  OPS_METRICS_TARGETS: z.string().optional(),
});

export interface GatewayConfig {
  port: number;
  commandApiUrl: string;
  queryApiUrl: string;
  webRoot: string;
  metricsTargets: Record<string, string>;
}

/** web/dist of this checkout, from the sources (gateway/) or from the build (dist/gateway/). */
export function defaultWebRoot(): string {
  const fromSources = fileURLToPath(new URL('../web/dist', import.meta.url));
  const fromBuild = fileURLToPath(new URL('../../web/dist', import.meta.url));
  return existsSync(fromSources) || !existsSync(fromBuild) ? fromSources : fromBuild;
}

function parseTargets(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split(',')
      .map((pair) => pair.trim().split('='))
      .filter((pair): pair is [string, string] => pair.length === 2 && pair[0] !== '' && pair[1] !== ''),
  );
}

export function loadGatewayConfig(
  platform: Pick<Config, 'HOST' | 'COMMAND_API_PORT' | 'QUERY_API_PORT' | 'NOTIFICATIONS_PORT'>,
  env: Record<string, string | undefined> = process.env,
): GatewayConfig {
  const parsed = schema.parse(env);
  const host = ['0.0.0.0', '::'].includes(platform.HOST) ? '127.0.0.1' : platform.HOST;
  const at = (port: number) => `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    port: parsed.GATEWAY_PORT,
    commandApiUrl: parsed.COMMAND_API_URL ?? at(platform.COMMAND_API_PORT),
    queryApiUrl: parsed.QUERY_API_URL ?? at(platform.QUERY_API_PORT),
    webRoot: parsed.WEB_ROOT ?? defaultWebRoot(),
    metricsTargets: parsed.OPS_METRICS_TARGETS
      ? parseTargets(parsed.OPS_METRICS_TARGETS)
      : {
          'command-api': at(platform.COMMAND_API_PORT + 1000),
          'query-api': at(platform.QUERY_API_PORT + 1000),
          projections: at(4003),
          'catalog-projections': at(4004),
          notifications: at(platform.NOTIFICATIONS_PORT + 1000),
        },
  };
}
