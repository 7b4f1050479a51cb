/**
 * `npm run web:build`: the patient's web app into web/dist with content-hashed asset names
 * (served immutable by the gateway), precompressed twins and the first-page JavaScript budget.
 */
import { fileURLToPath } from 'node:url';
import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';
import { cdnBuild } from './cdn-build.ts';

/** The first page's JavaScript, gzip, at most (issue 19). WEB_JS_BUDGET_KB overrides it (to prove the check). */
const budgetKb = Number(process.env.WEB_JS_BUDGET_KB ?? 120);

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  plugins: [vue(), cdnBuild({ budgetGzipBytes: budgetKb * 1024 })],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsDir: 'assets',
    reportCompressedSize: false,
  },
  server: {
    proxy: { '/v1': 'http://127.0.0.1:3005', '/dev': 'http://127.0.0.1:3005' },
  },
});
