/**
 * Prints a bearer token for local use:
 *   npm run token -- --sub p1 --role patient [--expires 1h]
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../platform/config.ts';
import { roles, signToken, type Role } from '../platform/http/auth.ts';

const usage = 'usage: npm run token -- --sub <subject> --role <patient|hospital|admin> [--expires 1h]';

const { values } = parseArgs({
  options: {
    sub: { type: 'string' },
    role: { type: 'string' },
    expires: { type: 'string', default: '1h' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});

if (values.help) {
  process.stdout.write(`${usage}\n`);
} else if (!values.sub || !values.role || !(roles as readonly string[]).includes(values.role)) {
  process.stderr.write(`${usage}\n`);
  process.exitCode = 2;
} else {
  const { JWT_SECRET } = loadConfig();
  const token = await signToken(
    JWT_SECRET,
    { sub: values.sub, role: values.role as Role },
    { expiresIn: values.expires },
  );
  process.stdout.write(`${token}\n`);
}
