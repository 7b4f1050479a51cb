/**
 * Continuous booking traffic for the drill, through the write path's core: the real decider and
 * the PostgreSQL event store (optimistic concurrency on the stream revision), as the command API
 * does it — without the HTTP shell, so catalog checks of the API do not need a seeded catalog.
 * Each worker owns its schedules (no conflicts); commands: open a schedule, book (85 %), cancel.
 * Every committed append is recorded with the client's clock before and after it.
 */
import { stampSchemaVersion } from '../../domain/event-versions.ts';
import { randomUUID } from 'node:crypto';
import {
  decide,
  evolve,
  initialState,
  scheduleStreamName,
  type ScheduleCommand,
  type ScheduleEvent,
  type ScheduleState,
} from '../../domain/schedule.ts';
import type { PgEventStore } from '../../platform/event-store/pg-event-store.ts';

export interface CommittedAppend {
  eventIds: string[];
  streamId: string;
  /** Client clock (ms since the epoch) when the append was sent and when its commit came back. */
  sentAt: number;
  ackedAt: number;
}

export interface LoadOptions {
  /** Commands per second over all workers. */
  rate: number;
  workers: number;
  capacity?: number;
}

export interface Load {
  readonly appends: CommittedAppend[];
  readonly failures: number;
  stop(): Promise<void>;
}

// A session well after the clock the commands carry, so no booking is refused as too late.
const SESSION_DATE = '2031-06-02';
const NOW = new Date('2031-05-28T09:30:00Z');

interface Schedule {
  id: string;
  state: ScheduleState;
  revision: number;
  active: string[];
}

function nextCommand(s: Schedule | undefined, capacity: number, worker: number): ScheduleCommand {
  if (!s || s.active.length >= capacity)
    return {
      type: 'OpenSchedule',
      scheduleId: randomUUID(),
      doctorId: `pitr-doctor-${worker}`,
      institutionId: `pitr-institution-${worker % 3}`,
      departmentId: `pitr-department-${worker % 2}`,
      date: SESSION_DATE,
      period: 'morning',
      capacity,
      fee: 5000,
      bookingHorizonDays: 90,
      actor: { id: 'pitr-hospital', role: 'hospital' },
      now: NOW,
    };
  const cancel = s.active.length > 2 && Math.random() < 0.15;
  if (cancel) {
    const [appointmentId] = s.active.splice(Math.floor(Math.random() * s.active.length), 1);
    return {
      type: 'CancelAppointment',
      appointmentId: appointmentId!,
      actor: { id: 'pitr-hospital', role: 'hospital' },
      now: NOW,
    };
  }
  return {
    type: 'BookAppointment',
    scheduleId: s.id,
    appointmentId: randomUUID(),
    // The drill stores the shape the command API writes (docs/adr/0010): a reference and a
    // sealed identity (a stub: the drill checks event identity and order, not the vault).
    patientRef: `pitr-patient-${randomUUID().slice(0, 8)}`,
    patient: 'v1.c3R1Yg.c3R1Yg.c3R1Yg',
    now: NOW,
  };
}

async function execute(store: PgEventStore, s: Schedule, command: ScheduleCommand): Promise<CommittedAppend> {
  const decision = decide(command, s.state);
  if (!decision.ok) throw new Error(`command refused: ${decision.error.code}`);
  const ids = decision.events.map(() => randomUUID());
  const stream = scheduleStreamName(s.id);
  const sentAt = Date.now();
  await store.appendToStream(
    stream,
    decision.events.map((e: ScheduleEvent, i) => ({
      id: ids[i],
      type: e.type,
      data: e.data,
      metadata: stampSchemaVersion(e.type, {}),
    })),
    s.revision < 0 ? 'no_stream' : BigInt(s.revision),
  );
  const ackedAt = Date.now();
  for (const e of decision.events) s.state = evolve(s.state, e);
  s.revision += decision.events.length;
  if (command.type === 'BookAppointment') s.active.push(command.appointmentId);
  return { eventIds: ids, streamId: stream, sentAt, ackedAt };
}

export function startLoad(store: PgEventStore, opts: LoadOptions): Load {
  const appends: CommittedAppend[] = [];
  const capacity = opts.capacity ?? 200;
  let stopping = false;
  let failures = 0;
  const intervalMs = (1000 * opts.workers) / opts.rate;

  async function worker(n: number): Promise<void> {
    let current: Schedule | undefined;
    let due = performance.now() + (intervalMs * n) / opts.workers;
    while (!stopping) {
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      due = Math.max(due + intervalMs, performance.now() - intervalMs);
      const command = nextCommand(current, capacity, n);
      const target: Schedule =
        command.type === 'OpenSchedule'
          ? { id: command.scheduleId, state: initialState(), revision: -1, active: [] }
          : current!;
      try {
        appends.push(await execute(store, target, command));
        current = target;
      } catch {
        // An append whose outcome is unknown (a broken connection) is not recorded as committed:
        // the verification then counts it from the store itself, never from this list.
        failures += 1;
        current = undefined;
      }
    }
  }

  const running = Promise.all(Array.from({ length: opts.workers }, (_, i) => worker(i)));
  return {
    appends,
    get failures() {
      return failures;
    },
    async stop() {
      stopping = true;
      await running;
    },
  };
}
