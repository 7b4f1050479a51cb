/**
 * `npm run contracts:generate`: writes contracts/events/*.schema.json from the zod schemas
 * (contracts/event-schemas.ts), formatted as prettier would, and deletes generated files that no
 * longer have a schema. `--check` writes nothing and exits 1 when a file differs (the unit test
 * tests/unit/contracts.unit.spec.ts does the same in memory).
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { eventContractSchemas } from './event-schemas.ts';

export const EVENTS_DIR = fileURLToPath(new URL('./events/', import.meta.url));

/** The committed text of every generated file, as it should be. */
export async function renderedContracts(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const [file, schema] of eventContractSchemas()) {
    const filepath = `${EVENTS_DIR}${file}`;
    const options = (await prettier.resolveConfig(filepath)) ?? {};
    out.set(file, await prettier.format(JSON.stringify(schema), { ...options, filepath }));
  }
  return out;
}

/** Files under contracts/events/ whose content differs from the generated one, or that should not exist. */
export async function driftedContracts(): Promise<string[]> {
  const expected = await renderedContracts();
  const present = readdirSync(EVENTS_DIR).filter((f) => f.endsWith('.schema.json'));
  const stale = present.filter((f) => !expected.has(f));
  const differing = [...expected].filter(
    ([file, text]) => !present.includes(file) || readFileSync(`${EVENTS_DIR}${file}`, 'utf8') !== text,
  );
  return [...stale, ...differing.map(([file]) => file)].sort();
}

async function main(check: boolean): Promise<void> {
  if (check) {
    const drifted = await driftedContracts();
    for (const file of drifted) console.error(`contracts/events/${file} is not what the schemas generate`);
    if (drifted.length > 0) console.error('run: npm run contracts:generate');
    process.exitCode = drifted.length > 0 ? 1 : 0;
    return;
  }
  const expected = await renderedContracts();
  for (const file of readdirSync(EVENTS_DIR)) {
    if (file.endsWith('.schema.json') && !expected.has(file)) rmSync(`${EVENTS_DIR}${file}`);
  }
  for (const [file, text] of expected) writeFileSync(`${EVENTS_DIR}${file}`, text);
  console.log(`wrote ${expected.size} schemas to contracts/events/`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(process.argv.includes('--check'));
