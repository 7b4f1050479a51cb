/**
 * Preload of every service: `node --import ./platform/telemetry-register.ts <entry>` (from the
 * sources, after `--import tsx`), `node --import ./dist/platform/telemetry-register.js <entry>`
 * from the build. Registers the ESM loader hook of OpenTelemetry's instrumentations (pg, ioredis
 * and kafkajs are imported from ESM: require hooks alone never see them), limited to the
 * modules the instrumentations patch, then starts the SDK — all before the entry's imports load.
 * OTEL_SDK_DISABLED=true skips both.
 */
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import { createAddHookMessageChannel } from 'import-in-the-middle';

if (isMainThread && !/^(true|1)$/i.test(process.env.OTEL_SDK_DISABLED ?? '')) {
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, registerOptions);
  const { startTelemetry } = await import('./telemetry.ts');
  startTelemetry();
  await waitForAllMessagesAcknowledged();
}
