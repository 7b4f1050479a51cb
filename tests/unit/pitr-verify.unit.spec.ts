import { describe, expect, it } from 'vitest';
import type { CommittedAppend } from '../../infra/backup/event-load.ts';
import { confLines } from '../../infra/backup/pg-cluster.ts';
import { archivingSettings } from '../../infra/backup/pitr.ts';
import { verify, type RestoredEvent, type SourceEvent } from '../../infra/backup/verify.ts';

// T = 1_000_000 ms after the epoch; events every 100 ms around it.
const T = { text: 'T', epochMs: 1_000_000, epochUs: 1_000_000_000n };
const source: SourceEvent[] = [0, 1, 2, 3].map((i) => ({
  id: `e${i}`,
  stream: 'schedule-a',
  revision: String(i),
  position: String(i + 1),
  committedUs: T.epochUs + BigInt((i - 2) * 100_000),
  beforeTarget: i <= 2,
}));
const appends: CommittedAppend[] = source.map((e) => ({
  eventIds: [e.id],
  streamId: e.stream,
  sentAt: Number(e.committedUs / 1000n) - 5,
  ackedAt: Number(e.committedUs / 1000n) + 5,
}));
const restoredOf = (events: SourceEvent[], revision = '2') => ({
  events: events.map(({ id, stream, revision: r, position }): RestoredEvent => ({
    id,
    stream,
    revision: r,
    position,
  })),
  streams: new Map([['schedule-a', revision]]),
});

describe('verification of a point-in-time restore', () => {
  it('given exactly the events committed up to T, when verified, then nothing is lost or extra', () => {
    const v = verify(source, restoredOf(source.slice(0, 3)), appends, T);
    expect(v).toMatchObject({
      expected: 3,
      restored: 3,
      lost: 0,
      extra: 0,
      moved: 0,
      brokenStreams: 0,
      ok: true,
    });
    expect(v.gapToTargetMs).toBe(0);
    // The append committed at T was acknowledged after it: in flight, decided by the commit time.
    expect(v.client).toMatchObject({ ackedBefore: 2, sentAfter: 1, inFlight: 1 });
  });

  it('given a missing event before T, when verified, then it is lost and its stream is broken', () => {
    const v = verify(source, restoredOf([source[0]!, source[2]!]), appends, T);
    expect(v).toMatchObject({ lost: 1, brokenStreams: 1, ok: false });
    expect(v.client.ackedBeforeMissing).toBe(1);
  });

  it('given an event committed after T, when verified, then it is extra', () => {
    const v = verify(source, restoredOf(source, '3'), appends, T);
    expect(v).toMatchObject({ extra: 1, ok: false });
    expect(v.client.sentAfterPresent).toBe(1);
  });

  it('given an event at another global position, when verified, then it has moved', () => {
    const moved = source.slice(0, 3).map((e, i) => (i === 1 ? { ...e, position: '99' } : e));
    expect(verify(source, restoredOf(moved), appends, T)).toMatchObject({ moved: 1, ok: false });
  });

  it('given event_streams behind the events, when verified, then the stream is broken', () => {
    expect(verify(source, restoredOf(source.slice(0, 3), '1'), appends, T)).toMatchObject({
      brokenStreams: 1,
      ok: false,
    });
  });
});

describe('archiving settings', () => {
  it('copies each segment into the archive only once and bounds the unarchived tail', () => {
    const conf = confLines(archivingSettings('/backups/wal', 5));
    expect(conf).toContain("archive_command = 'test ! -f /backups/wal/%f && cp %p /backups/wal/%f'");
    expect(conf).toContain("archive_timeout = '5s'");
    expect(conf).toContain("archive_mode = 'on'");
  });
});
