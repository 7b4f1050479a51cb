/**
 * The servers the query benchmark compares, one per process so each gets a core to itself:
 *   ceiling  a bare node:http server answering the same bytes (no routing, no cache lookups)
 *   naive    Express with one Redis GET and JSON parse/stringify per request
 *   ours     the query API (two-level cache, pre-serialised bytes, ETags)
 * Usage: tsx bench/query-servers.ts <kind> <port>   (BENCH_* env set by query-bench.ts)
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import express from 'express';
import { Redis } from 'ioredis';
import { loadConfig } from '../platform/config.ts';
import { defaultFlowRules } from '../platform/flow/default-rules.ts';
import type { FlowRules } from '../platform/flow/rules.ts';
import { parseQueryApiConfig } from '../query-api/config.ts';
import { startQueryApi } from '../query-api/start.ts';

const [kind, portArg] = process.argv.slice(2);
const port = Number(portArg);
const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};

switch (kind) {
  case 'ceiling': {
    // path -> exact bytes our API returned for it
    const bodies = new Map<string, Buffer>(
      Object.entries(
        JSON.parse(readFileSync(env('BENCH_BODIES_FILE'), 'utf8')) as Record<string, string>,
      ).map(([path, body]) => [path, Buffer.from(body, 'base64')]),
    );
    createServer((req, res) => {
      const body = bodies.get(req.url ?? '');
      if (!body) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': body.length,
      });
      res.end(body);
    }).listen(port, '127.0.0.1');
    break;
  }
  case 'naive': {
    const redis = new Redis(loadConfig().REDIS_URL);
    const prefix = env('BENCH_NAIVE_PREFIX');
    const app = express();
    app.disable('x-powered-by');
    app.get(/.*/, async (req, res) => {
      const raw = await redis.get(`${prefix}${req.url}`);
      if (!raw) {
        res.status(404).end();
        return;
      }
      res.json(JSON.parse(raw));
    });
    app.listen(port, '127.0.0.1');
    break;
  }
  case 'ours': {
    const queryConfig = parseQueryApiConfig(process.env);
    if (!queryConfig.ok) throw new Error(queryConfig.errors.join('; '));
    await startQueryApi({
      config: loadConfig(),
      queryConfig: queryConfig.config,
      port,
      catalogPrefix: env('BENCH_CATALOG_PREFIX'),
      searchAlias: env('BENCH_SEARCH_ALIAS'),
      readModelRoot: env('BENCH_READ_MODEL_ROOT'),
      ...(process.env.BENCH_ADMIN_PORT ? { adminPort: Number(process.env.BENCH_ADMIN_PORT) } : {}),
      flowRules: benchFlowRules(),
    });
    break;
  }
  default:
    throw new Error(`unknown server kind ${kind}`);
}
/**
 * The default rules, given rather than read from the environment's live key (a bench must not see
 * an operator's rules), without per-client budgets: the one load generator stands for many
 * patients, and a budget on its address would refuse the bench itself (the search mix got 429s).
 */
function benchFlowRules(): FlowRules {
  const rules = defaultFlowRules();
  const resources = Object.fromEntries(
    Object.entries(rules.resources).map(([name, list]) => [name, list.filter((r) => r.kind !== 'hot-param')]),
  );
  return { ...rules, resources };
}

// A normal exit on SIGTERM, so a server started with --cpu-prof (BENCH_PROFILE_DIR) writes its profile.
process.on('SIGTERM', () => process.exit(0));
process.send?.('ready');
