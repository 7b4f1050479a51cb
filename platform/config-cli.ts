// `npm run config`: validates the environment and prints the effective configuration (secrets masked).
import { loadConfig } from './config.ts';

const SECRET = /SECRET|PASSWORD|TOKEN|JWT_KEYS|KEK/;

const config = loadConfig();
for (const [key, value] of Object.entries(config)) {
  let shown = Array.isArray(value) ? value.join(',') : String(value);
  if (SECRET.test(key)) shown = '********';
  if (key === 'DATABASE_URL' || key === 'EVENTSTORE_URL') shown = shown.replace(/:[^:@/]+@/, ':****@');
  console.log(`${key}=${shown}`);
}
