// `npm run build`, after tsc: copies the files the compiled code reads at runtime (by a path
// relative to its own module, `import.meta.url` / `import.meta.dirname`) next to their modules in
// dist/, so dist/ runs on plain `node` without the sources.
//   node scripts/copy-assets.js          copy the assets
//   node scripts/copy-assets.js --clean  remove dist/ (before tsc)
import { cpSync, existsSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');

if (process.argv.includes('--clean')) {
  rmSync(dist, { recursive: true, force: true });
  process.exit(0);
}

/** Source path → why the code needs it. Directories are copied whole (filtered). */
const assets = [
  // connectors/catalog-connector.ts: the Debezium connector template (CATALOG_TEMPLATE_URL).
  { path: 'connectors/catalog-source.json' },
  // infra/migrate.ts: MIGRATIONS_DIR, the versioned .sql files.
  { path: 'infra/migrations', filter: (f) => f.endsWith('.sql') },
  // infra/local/engine-specs.ts (REPO_LOCAL_DIR): engine config templates and the Maven poms
  // the launcher resolves jars from, when the supervisor brings the local engines up.
  { path: 'infra/local/conf' },
  { path: 'infra/local/maven', filter: (f) => f === 'pom.xml' },
];

if (!existsSync(dist)) {
  console.error('dist/ does not exist: run tsc -p tsconfig.build.json first');
  process.exit(1);
}
for (const { path, filter } of assets) {
  const from = join(root, path);
  cpSync(from, join(dist, path), {
    recursive: true,
    // Directories pass (their files are filtered), except the target/ dirs Maven may leave.
    filter: (src) =>
      statSync(src).isDirectory() ? basename(src) !== 'target' : !filter || filter(basename(src)),
  });
}
console.log(`copied ${assets.length} runtime assets into dist/`);
