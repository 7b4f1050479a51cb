// `npm run engines -- up|down|status`: the real engines of the platform, from Maven Central jars, without Docker.
import { down, status, up } from './launcher.ts';

const usage = 'usage: npm run engines -- up | down | status';

async function main(command: string | undefined): Promise<number> {
  switch (command) {
    case 'up':
      await up();
      return 0;
    case 'down':
      await down();
      return 0;
    case 'status': {
      const rows = await status();
      for (const s of rows) {
        const mem = s.pid ? ` rss ${s.rssMiB} MiB (peak ${s.peakMiB} MiB)` : '';
        console.log(
          `${s.ready ? '✔' : '✘'} ${s.engine.padEnd(10)} ${s.pid ? `pid ${s.pid}` : 'not running'}${mem} — ${s.where}; log ${s.log}`,
        );
      }
      return rows.every((s) => s.ready) ? 0 : 3;
    }
    default:
      console.error(usage);
      return 2;
  }
}

main(process.argv[2]).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`engines: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
