/**
 * Runs one reference receiver (his-mock.ts) from the command line:
 *   npm run his:mock -- --port 4100 --latency 20 --fail-rate 0.1 [--secret <s>] [--host 127.0.0.1]
 * The secret defaults to HIS_MOCK_SECRET, else the development one below (the same for every
 * institution: put it in delivery_private.institution_signing_secrets for the institutions that
 * point at this receiver). Prints a line every 5 s with what it applied, dropped and refused.
 */
import { parseArgs } from 'node:util';
import { startHisMock } from './his-mock.ts';

export const DEV_HIS_SECRET = 'local-dev-only-his-secret-0123456789';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '4100' },
    host: { type: 'string', default: '127.0.0.1' },
    latency: { type: 'string', default: '0' },
    'fail-rate': { type: 'string', default: '0' },
    secret: { type: 'string' },
  },
});

function numberArg(name: string, value: string, max: number): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > max) {
    process.stderr.write(`--${name} must be a number from 0 to ${max}, not ${JSON.stringify(value)}\n`);
    process.exit(2);
  }
  return n;
}

const mock = await startHisMock({
  port: numberArg('port', values.port, 65535),
  host: values.host,
  latencyMs: numberArg('latency', values.latency, 600_000),
  failRate: numberArg('fail-rate', values['fail-rate'], 1),
  secret: values.secret ?? process.env.HIS_MOCK_SECRET ?? DEV_HIS_SECRET,
});
process.stdout.write(`reference receiver listening at ${mock.url}\n`);
const timer = setInterval(() => {
  process.stdout.write(
    `${JSON.stringify({
      requests: mock.requests(),
      applied: mock.applied().length,
      duplicates: mock.duplicates.length,
      gaps: mock.gaps.length,
      refused: mock.refusals.length,
    })}\n`,
  );
}, 5_000);
const shutdown = () => {
  clearInterval(timer);
  void mock.close().then(() => process.exit(0));
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
