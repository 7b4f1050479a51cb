/**
 * The CDN side of `npm run web:build`, as a Vite plugin:
 *  - every text file of the build gets .gz and .br twins (node:zlib, best compression: built once,
 *    served many times), which the gateway sends by Accept-Encoding;
 *  - the first page's JavaScript (the entry chunk and every chunk it imports statically, i.e.
 *    everything the browser must load before the homepage runs) must stay within the budget
 *    in gzip bytes, or the build fails;
 *  - build-report.json lists each file's raw, gzip and brotli bytes (bench/results/web.md).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import type { Plugin } from 'vite';

const COMPRESSIBLE = /\.(js|css|html|svg|json|txt|webmanifest)$/;

export interface FileSize {
  file: string;
  raw: number;
  gzip: number;
  brotli: number;
}

export interface BuildReport {
  budgetGzipBytes: number;
  firstPage: { files: string[]; raw: number; gzip: number; brotli: number };
  files: FileSize[];
}

const gzip = (data: Buffer) => gzipSync(data, { level: 9 });
const brotli = (data: Buffer) =>
  brotliCompressSync(data, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length },
  });

interface ChunkLike {
  type: 'chunk' | 'asset';
  fileName: string;
  isEntry?: boolean;
  imports?: string[];
}

/** The entry chunk and its static imports, transitively (dynamic imports load later). */
export function firstPageChunks(bundle: Record<string, ChunkLike>): string[] {
  const seen = new Set<string>();
  const visit = (name: string) => {
    const chunk = bundle[name];
    if (!chunk || seen.has(name)) return;
    seen.add(name);
    for (const imported of chunk.imports ?? []) visit(imported);
  };
  for (const chunk of Object.values(bundle))
    if (chunk.type === 'chunk' && chunk.isEntry) visit(chunk.fileName);
  return [...seen];
}

export function cdnBuild(opts: { budgetGzipBytes: number }): Plugin {
  let outDir = 'dist';
  return {
    name: 'cdn-build',
    apply: 'build',
    configResolved(config) {
      outDir = join(config.root, config.build.outDir);
    },
    writeBundle(_options, bundle) {
      const files: FileSize[] = [];
      for (const fileName of Object.keys(bundle)) {
        if (!COMPRESSIBLE.test(fileName)) continue;
        const path = join(outDir, fileName);
        const raw = readFileSync(path);
        const gz = gzip(raw);
        const br = brotli(raw);
        writeFileSync(`${path}.gz`, gz);
        writeFileSync(`${path}.br`, br);
        files.push({ file: fileName, raw: raw.length, gzip: gz.length, brotli: br.length });
      }
      const first = firstPageChunks(bundle);
      const sizes = files.filter((f) => first.includes(f.file));
      const sum = (k: 'raw' | 'gzip' | 'brotli') => sizes.reduce((n, f) => n + f[k], 0);
      const report: BuildReport = {
        budgetGzipBytes: opts.budgetGzipBytes,
        firstPage: { files: first, raw: sum('raw'), gzip: sum('gzip'), brotli: sum('brotli') },
        files: files.sort((a, b) => a.file.localeCompare(b.file)),
      };
      writeFileSync(join(outDir, 'build-report.json'), `${JSON.stringify(report, null, 2)}\n`);
      const kb = (n: number) => `${(n / 1024).toFixed(1)} kB`;
      const line = `first page JavaScript: ${kb(report.firstPage.raw)} raw, ${kb(report.firstPage.gzip)} gzip, ${kb(report.firstPage.brotli)} brotli (budget ${kb(opts.budgetGzipBytes)} gzip)`;
      if (report.firstPage.gzip > opts.budgetGzipBytes) this.error(`over budget: ${line}`);
      this.info(line);
    },
  };
}
