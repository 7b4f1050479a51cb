/**
 * What a restore to time T must contain: exactly the events whose transaction committed at or
 * before T (recovery_target_inclusive, the default), with the source's global positions and
 * stream revisions, every stream gap-free and event_streams agreeing with events. The commit time
 * of each event comes from the source (track_commit_timestamp): the very timestamp recovery
 * compares with the target. The client's own clock is checked too: an append acknowledged before
 * T must be there, one sent after T must not.
 */
import pg from 'pg';
import type { CommittedAppend } from './event-load.ts';

export interface SourceEvent {
  id: string;
  stream: string;
  revision: string;
  position: string;
  /** Commit time, microseconds since the epoch. */
  committedUs: bigint;
  beforeTarget: boolean;
}

export interface RestoredEvent {
  id: string;
  stream: string;
  revision: string;
  position: string;
}

async function rows<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, application_name: 'pitr-drill' });
  // A cluster stopped under it (cleanup after a signal) fails the query; it must not crash the process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

export async function sourceEvents(url: string, targetTime: string): Promise<SourceEvent[]> {
  const found = await rows<{
    id: string;
    stream: string;
    revision: string;
    position: string;
    us: string;
    before: boolean;
  }>(
    url,
    `SELECT event_id::text AS id, stream_id AS stream, stream_revision::text AS revision,
            global_position::text AS position,
            (extract(epoch FROM pg_xact_commit_timestamp(transaction_id::xid)) * 1000000)::bigint::text AS us,
            pg_xact_commit_timestamp(transaction_id::xid) <= $1::timestamptz AS before
       FROM events ORDER BY global_position`,
    [targetTime],
  );
  return found.map((r) => ({ ...r, committedUs: BigInt(r.us), beforeTarget: r.before }));
}

export async function restoredEvents(
  url: string,
): Promise<{ events: RestoredEvent[]; streams: Map<string, string> }> {
  const events = await rows<RestoredEvent>(
    url,
    `SELECT event_id::text AS id, stream_id AS stream, stream_revision::text AS revision,
            global_position::text AS position FROM events ORDER BY global_position`,
  );
  const streams = await rows<{ stream: string; revision: string }>(
    url,
    'SELECT stream_id AS stream, revision::text AS revision FROM event_streams',
  );
  return { events, streams: new Map(streams.map((s) => [s.stream, s.revision])) };
}

export interface Verdict {
  written: number;
  expected: number;
  restored: number;
  /** Committed at or before T on the source, missing after the restore. */
  lost: number;
  /** Restored although committed after T (or unknown to the source). */
  extra: number;
  /** Restored with another global position or stream revision than on the source. */
  moved: number;
  /** Streams whose revisions are not 0..n-1, or whose event_streams row disagrees. */
  brokenStreams: number;
  client: {
    ackedBefore: number;
    sentAfter: number;
    inFlight: number;
    ackedBeforeMissing: number;
    sentAfterPresent: number;
  };
  /** T minus the commit time of the last restored event (ms): the data a restore to T gives up. */
  gapToTargetMs: number;
  ok: boolean;
}

function streamProblems(events: RestoredEvent[], streams: Map<string, string>): number {
  const revisions = new Map<string, number[]>();
  for (const e of events) revisions.set(e.stream, [...(revisions.get(e.stream) ?? []), Number(e.revision)]);
  let broken = 0;
  for (const [stream, revs] of revisions) {
    revs.sort((a, b) => a - b);
    const contiguous = revs.every((r, i) => r === i);
    if (!contiguous || streams.get(stream) !== String(revs.length - 1)) broken += 1;
  }
  for (const stream of streams.keys()) if (!revisions.has(stream)) broken += 1;
  return broken;
}

function clientView(appends: CommittedAppend[], targetMs: number, present: Set<string>) {
  const view = { ackedBefore: 0, sentAfter: 0, inFlight: 0, ackedBeforeMissing: 0, sentAfterPresent: 0 };
  for (const a of appends) {
    const there = a.eventIds.every((id) => present.has(id));
    if (a.ackedAt < targetMs) {
      view.ackedBefore += 1;
      if (!there) view.ackedBeforeMissing += 1;
    } else if (a.sentAt > targetMs) {
      view.sentAfter += 1;
      if (a.eventIds.some((id) => present.has(id))) view.sentAfterPresent += 1;
    } else view.inFlight += 1;
  }
  return view;
}

export function verify(
  source: SourceEvent[],
  restored: { events: RestoredEvent[]; streams: Map<string, string> },
  appends: CommittedAppend[],
  target: { text: string; epochMs: number; epochUs: bigint },
): Verdict {
  const bySource = new Map(source.map((e) => [e.id, e]));
  const present = new Set(restored.events.map((e) => e.id));
  const expected = source.filter((e) => e.beforeTarget);
  const lost = expected.filter((e) => !present.has(e.id)).length;
  let extra = 0;
  let moved = 0;
  let lastUs = 0n;
  for (const e of restored.events) {
    const s = bySource.get(e.id);
    if (!s?.beforeTarget) extra += 1;
    if (s && (s.position !== e.position || s.revision !== e.revision || s.stream !== e.stream)) moved += 1;
    if (s && s.committedUs > lastUs) lastUs = s.committedUs;
  }
  const brokenStreams = streamProblems(restored.events, restored.streams);
  const client = clientView(appends, target.epochMs, present);
  const ok =
    lost === 0 &&
    extra === 0 &&
    moved === 0 &&
    brokenStreams === 0 &&
    client.ackedBeforeMissing === 0 &&
    client.sentAfterPresent === 0;
  return {
    written: source.length,
    expected: expected.length,
    restored: restored.events.length,
    lost,
    extra,
    moved,
    brokenStreams,
    client,
    gapToTargetMs: lastUs ? Number(target.epochUs - lastUs) / 1000 : Number.NaN,
    ok,
  };
}
