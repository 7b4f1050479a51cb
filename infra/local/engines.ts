// `npm run engines -- up|down|status`: the real engines of the platform, from Maven Central jars, without Docker.
import { parseArgs } from 'node:util';
import { down, status, up } from './launcher.ts';
import { searchNodeCount } from './search-nodes.ts';

const usage = 'usage: npm run engines -- up [--search-nodes N] | down | status';

async function main(command: string | undefined): Promise<number> {
  switch (command) {
    case 'up': {
      // Several search nodes form one cluster (infra/local/search-nodes.ts); SEARCH_NODES works too.
      const { values } = parseArgs({
        args: process.argv.slice(3),
        options: { 'search-nodes': { type: 'string' } },
      });
      await up(console.log, undefined, { searchNodes: searchNodeCount(values['search-nodes']) });
      return 0;
    }
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
