/**
 * Prints a bearer token for local use:
 *   npm run token -- --sub p1 --role patient [--expires 1h]   (at most JWT_MAX_TTL_SECONDS)
 *   npm run token -- --sub h1 --role hospital --institution 1
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../platform/config.ts';
import { jwtSettingsOf, roles, signToken, type Role } from '../platform/http/auth.ts';

const usage =
  'usage: npm run token -- --sub <subject> --role <patient|hospital|admin> [--institution <id>] [--expires 1h]\n' +
  '  --expires: lifetime, at most JWT_MAX_TTL_SECONDS (default 86400 s)\n' +
  '  --institution: the catalog institution a hospital token acts for (required for --role hospital)';

const { values } = parseArgs({
  options: {
    sub: { type: 'string' },
    role: { type: 'string' },
    institution: { type: 'string' },
    expires: { type: 'string', default: '1h' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});

if (values.help) {
  process.stdout.write(`${usage}\n`);
} else if (
  !values.sub ||
  !values.role ||
  !(roles as readonly string[]).includes(values.role) ||
  (values.role === 'hospital') !== (values.institution !== undefined)
) {
  process.stderr.write(`${usage}\n`);
  process.exitCode = 2;
} else {
  // Signed with the first key of JWT_KEYS (else JWT_SECRET), with the iss, aud and kid the APIs check.
  const jwt = jwtSettingsOf(loadConfig());
  try {
    const token = await signToken(
      jwt,
      {
        sub: values.sub,
        role: values.role as Role,
        ...(values.institution === undefined ? {} : { institutionId: values.institution }),
      },
      { expiresIn: values.expires },
    );
    process.stdout.write(`${token}\n`);
  } catch (err) {
    // An --expires past JWT_MAX_TTL_SECONDS (or one jose cannot read) mints nothing.
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  }
}
