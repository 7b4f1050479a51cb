/**
 * `npm run patients:encrypt`: rewrites, in place, the stored events of v1's clear shape — the
 * patient's id in AppointmentBooked/AppointmentCancelled and as the patient actor — into v2 (the
 * patient's reference and their identity sealed with their data key), docs/adr/0010.
 *
 * - Keyset-paginated by global position, one transaction per batch.
 * - Idempotent: a rewritten event is v2 and no longer selected; rerunning does nothing new.
 * - Resumable: interrupted, it starts over from the beginning (or `--from <position>`) and skips
 *   what is done; each row is updated only if it is still exactly what was read.
 * - It does not touch Kafka: records already published stay as they were (ADR 0010 says what an
 *   operator does about them). Events are appended and read by position and revision, never
 *   by content, so rewriting `data` and `metadata` moves no reader.
 */
import { pathToFileURL } from 'node:url';
import { clearPatientIdOf } from '../domain/event-versions.ts';
import { sealLegacyPatients, type PatientResolver } from '../platform/legacy-patients.ts';
import { withTransaction, type Pool } from '../platform/pg.ts';

export interface EncryptResult {
  /** Events of v1 found. */
  scanned: number;
  /** Events rewritten to v2. */
  rewritten: number;
  /** Global position of the last event looked at (pass to `from` to resume). */
  last: string;
}

interface Row {
  global_position: string;
  event_type: string;
  data: unknown;
  metadata: Record<string, unknown>;
}

/** One pass over the store from `from` (exclusive), `batchSize` v1 events at a time. */
export async function encryptPatients(
  pool: Pool,
  vault: PatientResolver,
  opts: { batchSize?: number; from?: string; onBatch?: (r: EncryptResult) => void } = {},
): Promise<EncryptResult> {
  const result: EncryptResult = { scanned: 0, rewritten: 0, last: opts.from ?? '0' };
  for (;;) {
    const { rows } = await pool.query<Row>(
      `SELECT global_position::text, event_type, data, metadata FROM events
       WHERE global_position > $1
         AND event_type IN ('AppointmentBooked', 'AppointmentCancelled')
         AND NOT (metadata ? 'schemaVersion' AND metadata->>'schemaVersion' <> '1')
       ORDER BY global_position LIMIT $2`,
      [result.last, opts.batchSize ?? 500],
    );
    if (rows.length === 0) return result;
    result.scanned += rows.length;
    const events = rows.map((r) => ({ type: r.event_type, data: r.data, metadata: r.metadata }));
    const sealed = await sealLegacyPatients(events, vault);
    await withTransaction(pool, async (tx) => {
      for (const [i, row] of rows.entries()) {
        if (clearPatientIdOf(events[i]!) === undefined) continue;
        const { rowCount } = await tx.query(
          `UPDATE events SET data = $2, metadata = $3
           WHERE global_position = $1 AND data = $4 AND metadata = $5`,
          [row.global_position, sealed[i]!.data, sealed[i]!.metadata, row.data, row.metadata],
        );
        result.rewritten += rowCount ?? 0;
      }
    });
    result.last = rows.at(-1)!.global_position;
    opts.onBatch?.(result);
  }
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;

if (invokedDirectly) {
  const { parseArgs } = await import('node:util');
  const { loadConfig } = await import('../platform/config.ts');
  const { createPool } = await import('../platform/pg.ts');
  const { patientVault } = await import('../platform/patient-vault.ts');
  const { values } = parseArgs({
    options: { from: { type: 'string' }, 'batch-size': { type: 'string' } },
  });
  const config = loadConfig();
  const pool = createPool(config, { applicationName: 'patients-encrypt' });
  try {
    const result = await encryptPatients(pool, patientVault(pool, config), {
      ...(values.from ? { from: values.from } : {}),
      ...(values['batch-size'] ? { batchSize: Number(values['batch-size']) } : {}),
      onBatch: (r) => process.stderr.write(`rewritten ${r.rewritten} of ${r.scanned}, at ${r.last}\n`),
    });
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await pool.end();
  }
}
