import { existsSync } from 'node:fs';
import { allReady, up } from '../../infra/local/launcher.ts';

/**
 * Integration tests run against the real engines. When they are not running, the same launcher
 * as `npm run engines -- up` brings them up (and leaves them running for the next run).
 */
export default async function setup(): Promise<void> {
  if (process.env.SKIP_ENGINE_LAUNCH === '1') {
    console.log('[global-setup] SKIP_ENGINE_LAUNCH=1: assuming the engines are already up');
  } else if (await allReady()) {
    console.log('[global-setup] engines already running');
    await up(() => undefined); // still ensures wal_level, role, database and topics
  } else {
    console.log('[global-setup] engines not running: starting them with infra/local/launcher');
    await up((line) => console.log(`[engines] ${line}`));
  }
  const migrator = new URL('../../infra/migrate.ts', import.meta.url);
  if (existsSync(migrator)) {
    const { migrate } = (await import(migrator.href)) as { migrate: (url: string) => Promise<unknown> };
    await migrate(process.env.DATABASE_URL ?? 'postgres://booking:booking@127.0.0.1:5432/booking');
  }
}
