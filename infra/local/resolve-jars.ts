import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { paths } from './engine-specs.ts';

type Progress = (line: string) => void;

const stampOf = (pom: string) =>
  createHash('sha256')
    .update(readFileSync(paths.pom(pom)))
    .digest('hex')
    .slice(0, 16);

/**
 * Copies a Maven module's runtime dependencies (from Maven Central, through ~/.m2) into
 * ~/.cache/booking-engines/<pom>/lib. Skipped when the lib dir was made from the same pom.
 */
export async function resolveJars(pom: string, progress: Progress): Promise<{ downloaded: boolean }> {
  const lib = paths.lib(pom);
  const stampFile = join(lib, '.resolved-from');
  const stamp = stampOf(pom);
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return { downloaded: false };

  rmSync(lib, { recursive: true, force: true });
  mkdirSync(lib, { recursive: true });
  progress(`resolving ${pom} jars with Maven (first run downloads from Maven Central)…`);
  let downloads = 0;
  await new Promise<void>((resolvePromise, reject) => {
    const mvn = spawn(
      'mvn',
      [
        '-B',
        '-f',
        paths.pom(pom),
        'dependency:copy-dependencies',
        '-DincludeScope=runtime',
        `-DoutputDirectory=${lib}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let tail = '';
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      tail = (tail + text).slice(-4000);
      for (const line of text.split('\n')) {
        if (line.includes('Downloaded from')) {
          downloads += 1;
          if (downloads % 20 === 0) progress(`  ${pom}: ${downloads} artifacts downloaded…`);
        }
      }
    };
    mvn.stdout.on('data', onData);
    mvn.stderr.on('data', onData);
    mvn.on('error', reject);
    mvn.on('close', (code) =>
      code === 0 ? resolvePromise() : reject(new Error(`mvn failed for ${pom} (exit ${code}):\n${tail}`)),
    );
  });
  const jars = readdirSync(lib).filter((f) => f.endsWith('.jar')).length;
  progress(`  ${pom}: ${jars} jars ready (${downloads} downloaded)`);
  writeFileSync(stampFile, stamp);
  return { downloaded: downloads > 0 };
}
