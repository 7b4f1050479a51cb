/**
 * Reads of the numbered-slot read models (issue 15): one schedule's slots, a patient's own
 * appointments (keyset pages), and a doctor's day list for a hospital. Each is a fixed number of
 * Redis round trips whatever the number of slots or appointments (pipelines, never one call per
 * item after another). Patient identity is never read here: the appointment hashes' `patientRef`
 * and `patient` fields are dropped before anything leaves this file.
 */
import type { RedisClient } from '../../platform/redis.ts';
import {
  type Keyspace,
  keyspace,
  parseScheduleHash,
  remaining,
  type ScheduleView,
  versionKey,
} from '../../read-models/bookings.ts';
import { publicSlots, type SlotView } from '../../read-models/slots.ts';
import { execPipeline, type Deps } from './redis-reads.ts';

/** A schedule as served: its availability, and each slot's state when it is numbered. */
export interface ServedSchedule extends Omit<ScheduleView, 'rev' | 'slots'> {
  remaining: number;
  slots?: SlotView[];
}

export function serveSchedule(view: ScheduleView, now: Date): ServedSchedule {
  const { rev: _rev, slots, ...rest } = view;
  return { ...rest, remaining: remaining(view), ...(slots ? { slots: publicSlots(slots, now) } : {}) };
}

/** An appointment as served on the lists: its hash without the holder's reference and identity. */
export interface ListedAppointment {
  appointmentId: string;
  scheduleId: string;
  status: string;
  [field: string]: string | undefined;
}

const listed = (hash: Record<string, string>): ListedAppointment | null => {
  if (!hash.appointmentId || !hash.scheduleId) return null;
  const { patientRef: _ref, patient: _patient, ...rest } = hash;
  return rest as ListedAppointment;
};

/** Where a patient's page starts: after this (score, id) in their list. */
export interface ListPosition {
  score: number;
  id: string;
}

export interface PatientPage {
  items: ListedAppointment[];
  next: ListPosition | null;
  /**
   * Checkpoint of each schedule the page shows, or with `everySchedule` of each schedule in the
   * patient's list (its latest 200 entries): a write's appointment may be on another page.
   */
  checkpoints: string[];
}

/** How many of a patient's latest entries read-your-writes looks through. */
const RYW_LIST_DEPTH = 200;

export interface DaySchedule {
  schedule: ServedSchedule;
  /** By slot (by booking time on a capacity-only schedule). */
  appointments: ListedAppointment[];
  checkpoint?: string;
}

export class SlotReader {
  constructor(
    private readonly redis: RedisClient,
    private readonly root: string,
  ) {}

  async keys(deps: Deps): Promise<Keyspace> {
    const pointer = versionKey(this.root);
    deps.add(pointer);
    const version = Number((await this.redis.get(pointer)) ?? '1');
    return keyspace(this.root, Number.isInteger(version) && version > 0 ? version : 1);
  }

  /** One schedule and its slots: one HGETALL. Null when the read model does not hold it. */
  async schedule(
    scheduleId: string,
    now: Date,
    deps: Deps,
  ): Promise<{ schedule: ServedSchedule; checkpoint?: string } | null> {
    const key = (await this.keys(deps)).schedule(scheduleId);
    deps.add(key);
    const hash = await this.redis.hgetall(key);
    const view = parseScheduleHash(hash);
    if (!view) return null;
    return { schedule: serveSchedule(view, now), ...(hash.cp ? { checkpoint: hash.cp } : {}) };
  }

  /**
   * A page of the patient's list (ordered by slot or session start, then id), after `after`:
   * ties at the cursor's score and the scores above it in one pipeline, then every appointment
   * and its schedule's checkpoint in a second one.
   */
  async patientPage(
    patientRef: string,
    after: ListPosition | undefined,
    limit: number,
    deps: Deps,
    /** Whose checkpoints to return: none, every schedule of the list, or the one a write went to. */
    judge: 'page' | 'list' | { scheduleId: string } = 'page',
  ): Promise<PatientPage> {
    const ks = await this.keys(deps);
    const list = ks.patientAppointments(patientRef);
    deps.add(list);
    const entries = await this.#entriesAfter(list, after, limit + 1);
    const page = entries.slice(0, limit);
    const hashes = (await execPipeline(this.redis, (p) => {
      for (const e of page) p.hgetall(ks.appointment(e.id));
    })) as Record<string, string>[];
    const items = hashes.map(listed).filter((a): a is ListedAppointment => a !== null);
    const scheduleIds =
      judge === 'page'
        ? [...new Set(items.map((a) => a.scheduleId))]
        : judge === 'list'
          ? await this.#scheduleIdsOf(ks, list)
          : [judge.scheduleId];
    const cps = (await execPipeline(this.redis, (p) => {
      for (const id of scheduleIds) p.hget(ks.schedule(id), 'cp');
    })) as (string | null)[];
    const last = page.at(-1);
    return {
      items,
      next: entries.length > limit && last ? last : null,
      checkpoints: cps.filter((cp): cp is string => typeof cp === 'string'),
    };
  }

  async #scheduleIdsOf(ks: Keyspace, list: string): Promise<string[]> {
    const ids = await this.redis.zrange(list, -RYW_LIST_DEPTH, -1);
    const scheduleIds = (await execPipeline(this.redis, (p) => {
      for (const id of ids) p.hget(ks.appointment(id), 'scheduleId');
    })) as (string | null)[];
    return [...new Set(scheduleIds.filter((id): id is string => typeof id === 'string'))];
  }

  async #entriesAfter(list: string, after: ListPosition | undefined, count: number): Promise<ListPosition[]> {
    const pairs = (raw: string[]) => {
      const out: ListPosition[] = [];
      for (let i = 0; i + 1 < raw.length; i += 2) out.push({ id: raw[i]!, score: Number(raw[i + 1]) });
      return out;
    };
    if (!after)
      return pairs(await this.redis.zrangebyscore(list, '-inf', '+inf', 'WITHSCORES', 'LIMIT', 0, count));
    // Members of one score are ordered by id: those after the cursor's id, then higher scores.
    const [ties, above] = (await execPipeline(this.redis, (p) => {
      p.zrangebyscore(list, after.score, after.score, 'WITHSCORES');
      p.zrangebyscore(list, `(${after.score}`, '+inf', 'WITHSCORES', 'LIMIT', 0, count);
    })) as [string[], string[]];
    return [...pairs(ties).filter((e) => e.id > after.id), ...pairs(above)].slice(0, count);
  }

  /**
   * A doctor's schedules of one day at one institution, each with its appointments by slot (by
   * booking time on a capacity-only schedule): three round trips whatever their number.
   */
  async dayList(
    doctorId: string,
    institutionId: string,
    fromMs: number,
    toMs: number,
    now: Date,
    deps: Deps,
  ): Promise<DaySchedule[]> {
    const ks = await this.keys(deps);
    // Every schedule ever opened (closed ones too); the open-schedule index covers keyspaces
    // written before the day index existed.
    const [days, open] = (await execPipeline(this.redis, (p) => {
      p.zrangebyscore(ks.doctorDays(doctorId), fromMs, toMs, 'LIMIT', 0, 50);
      p.zrangebyscore(ks.doctorSchedules(doctorId), fromMs, toMs, 'LIMIT', 0, 50);
    })) as [string[], string[]];
    const ids = [...new Set([...days, ...open])];
    const replies = await execPipeline(this.redis, (p) => {
      for (const id of ids) {
        p.hgetall(ks.schedule(id));
        p.zrange(ks.scheduleAppointments(id), 0, -1, 'WITHSCORES');
      }
    });
    const schedules: { hash: Record<string, string>; view: ScheduleView; roster: ListPosition[] }[] = [];
    ids.forEach((_, i) => {
      const hash = replies[2 * i] as Record<string, string>;
      const view = parseScheduleHash(hash);
      if (!view || view.institutionId !== institutionId) return;
      const raw = replies[2 * i + 1] as string[];
      const roster: ListPosition[] = [];
      for (let k = 0; k + 1 < raw.length; k += 2) roster.push({ id: raw[k]!, score: Number(raw[k + 1]) });
      schedules.push({ hash, view, roster });
    });
    schedules.sort((a, b) => a.view.sessionStartsAt.localeCompare(b.view.sessionStartsAt));
    const hashes = (await execPipeline(this.redis, (p) => {
      for (const s of schedules) for (const e of s.roster) p.hgetall(ks.appointment(e.id));
    })) as Record<string, string>[];
    let next = 0;
    return schedules.map(({ hash, view, roster }) => {
      const appointments = roster.flatMap(() => {
        const a = listed(hashes[next++] ?? {});
        return a ? [a] : [];
      });
      return {
        schedule: serveSchedule(view, now),
        appointments,
        ...(hash.cp ? { checkpoint: hash.cp } : {}),
      };
    });
  }
}
