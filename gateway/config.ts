/**
 * The gateway's settings: its port and where the two APIs and the built web app are. Defaults
 * match `npm start` (command API 3001, query API 3002, gateway 3005, web/dist of this checkout).
 * Several instances of an API (docs/adr/0021): `COMMAND_API_URLS` / `QUERY_API_URLS`, comma
 * separated, replace the single URL; `*_CANARY_URLS` name the instances of a second build that
 * the gray-release share (GRAY_RELEASE_KEY) routes a part of the users to.
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
  COMMAND_API_URLS: z.string().optional(),
  QUERY_API_URLS: z.string().optional(),
  COMMAND_API_CANARY_URLS: z.string().optional(),
  QUERY_API_CANARY_URLS: z.string().optional(),
  /** The version names the two builds report (response header, metric label, span attribute). */
  RELEASE_STABLE_VERSION: z.string().min(1).default('stable'),
  RELEASE_CANARY_VERSION: z.string().min(1).default('canary'),
  /** The Redis hash of this environment's canary shares (gateway/gray-store.ts; `npm run gray`). */
  GRAY_RELEASE_KEY: z.string().min(1).default('gray:release'),
  /** How often each API instance's /readyz is probed. */
  GATEWAY_HEALTH_INTERVAL_MS: z.coerce.number().int().min(50).max(60_000).default(2000),
});

/** The instances of one API: the stable build's and the canary's (empty: no gray release). */
export interface ServiceUrls {
  stable: string[];
  canary: string[];
}

export interface GatewayConfig {
  port: number;
  commandApiUrl: string;
  queryApiUrl: string;
  webRoot: string;
  metricsTargets: Record<string, string>;
  /** Several stable instances; when set, they replace commandApiUrl / queryApiUrl. */
  commandApiUrls?: string[];
  queryApiUrls?: string[];
  commandApiCanaryUrls?: string[];
  queryApiCanaryUrls?: string[];
  stableVersion?: string;
  canaryVersion?: string;
  grayKey?: string;
  healthIntervalMs?: number;
}

/** Pure: a comma-separated list of URLs; throws naming the setting on a bad one. */
export function parseUrls(name: string, text: string | undefined): string[] | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const urls = text
    .split(',')
    .map((u) => u.trim().replace(/\/+$/, ''))
    .filter(Boolean);
  for (const u of urls) {
    if (!z.url().safeParse(u).success) throw new Error(`${name}: ${JSON.stringify(u)} is not a URL`);
  }
  return urls;
}

/** The instances behind each API, from whichever settings were given. */
export function serviceUrlsOf(gateway: GatewayConfig): { command: ServiceUrls; query: ServiceUrls } {
  return {
    command: {
      stable: gateway.commandApiUrls ?? [gateway.commandApiUrl],
      canary: gateway.commandApiCanaryUrls ?? [],
    },
    query: {
      stable: gateway.queryApiUrls ?? [gateway.queryApiUrl],
      canary: gateway.queryApiCanaryUrls ?? [],
    },
  };
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
  const lists = {
    commandApiUrls: parseUrls('COMMAND_API_URLS', parsed.COMMAND_API_URLS),
    queryApiUrls: parseUrls('QUERY_API_URLS', parsed.QUERY_API_URLS),
    commandApiCanaryUrls: parseUrls('COMMAND_API_CANARY_URLS', parsed.COMMAND_API_CANARY_URLS),
    queryApiCanaryUrls: parseUrls('QUERY_API_CANARY_URLS', parsed.QUERY_API_CANARY_URLS),
  };
  return {
    ...Object.fromEntries(Object.entries(lists).filter(([, v]) => v !== undefined)),
    stableVersion: parsed.RELEASE_STABLE_VERSION,
    canaryVersion: parsed.RELEASE_CANARY_VERSION,
    grayKey: parsed.GRAY_RELEASE_KEY,
    healthIntervalMs: parsed.GATEWAY_HEALTH_INTERVAL_MS,
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
