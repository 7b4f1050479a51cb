/**
 * `npm run gray`: the live gray-release shares (docs/adr/0021), read by every gateway within about
 * a second, no restart:
 *   npm run gray                          show the shares (GRAY_RELEASE_KEY on REDIS_URL)
 *   npm run gray -- set query-api 10      send 10 % of users to the canary build of the query API
 *   npm run gray -- clear query-api       everyone back on the stable build
 */
import { userInfo } from 'node:os';
import { loadConfig } from '../platform/config.ts';
import { createRedis } from '../platform/redis.ts';
import { loadGatewayConfig } from './config.ts';
import { GrayStore, parseShare } from './gray-store.ts';

const SERVICES = ['command-api', 'query-api'];
const usage = 'usage: npm run gray -- [show | set <command-api|query-api> <percent> | clear <service>]';

const config = loadConfig();
const key = loadGatewayConfig(config).grayKey ?? 'gray:release';
const [verb = 'show', service, value] = process.argv.slice(2);
const fail = (message: string): never => {
  console.error(message);
  process.exit(2);
};

if (verb !== 'show' && !SERVICES.includes(service ?? '')) fail(usage);
const share = verb === 'set' ? parseShare(value ?? '') : 0;
if (typeof share === 'string') fail(`${share}\n${usage}`);
if (!['show', 'set', 'clear'].includes(verb)) fail(usage);

const redis = createRedis(config, 'gray-cli', { lazyConnect: true });
try {
  await redis.connect();
  const store = new GrayStore(redis, key);
  if (verb === 'set') await store.set(service ?? '', Number(share), `cli:${userInfo().username}`);
  if (verb === 'clear') await store.clear(service ?? '');
  const current = await store.read();
  console.log(
    `${key}${current.updatedAt ? ` (updated ${current.updatedAt} by ${current.updatedBy ?? '?'})` : ''}`,
  );
  for (const name of SERVICES) console.log(`  ${name}: ${current.shares[name] ?? 0}% on the canary`);
} finally {
  redis.disconnect();
}
