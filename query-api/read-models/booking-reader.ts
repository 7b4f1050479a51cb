import type { RedisClient } from '../../platform/redis.ts';
import {
  keyspace,
  parseScheduleHash,
  versionKey,
  type AppointmentView,
  type Keyspace,
} from '../../read-models/bookings.ts';
import { execPipeline, type Deps } from './redis-reads.ts';
import { serveSchedule, type ServedSchedule, SlotReader } from './slot-reader.ts';

/** A schedule's availability; a numbered one also lists each slot's state (never whose). */
export type Availability = ServedSchedule;

/**
 * Reads the booking read models the event projector keeps (read-models/bookings.ts),
 * always under the live keyspace version, which a rebuild switches atomically.
 */
export class BookingReader {
  /** The numbered-slot reads (schedule slots, patient list, day list) of the same keyspace. */
  readonly slots: SlotReader;

  constructor(
    private readonly redis: RedisClient,
    private readonly root: string,
  ) {
    this.slots = new SlotReader(redis, root);
  }

  async keys(deps: Deps): Promise<Keyspace> {
    const pointer = versionKey(this.root);
    deps.add(pointer);
    const version = Number((await this.redis.get(pointer)) ?? '1');
    return keyspace(this.root, Number.isInteger(version) && version > 0 ? version : 1);
  }

  async doctorSchedules(
    doctorId: string,
    fromMs: number,
    toMs: number,
    deps: Deps,
    /** When reserved slots are judged (read-models/slots.ts). */
    now: Date = new Date(),
  ): Promise<(Availability & { checkpoint?: string })[]> {
    const ks = await this.keys(deps);
    const index = ks.doctorSchedules(doctorId);
    deps.add(index);
    const ids = await this.redis.zrangebyscore(index, fromMs, toMs, 'LIMIT', 0, 500);
    const keys = ids.map((id) => ks.schedule(id));
    deps.add(...keys);
    const hashes = (await execPipeline(this.redis, (p) => {
      for (const key of keys) p.hgetall(key);
    })) as Record<string, string>[];
    return hashes.flatMap((hash) => {
      const view = parseScheduleHash(hash);
      if (!view) return [];
      return [{ ...serveSchedule(view, now), ...(hash.cp ? { checkpoint: hash.cp } : {}) }];
    });
  }

  async appointment(
    appointmentId: string,
    deps: Deps,
  ): Promise<{ view: AppointmentView; checkpoint?: string } | null> {
    const ks = await this.keys(deps);
    const key = ks.appointment(appointmentId);
    deps.add(key);
    // An appointment never moves to another schedule, so its schedule id can be read on its own;
    // the schedule's checkpoint and the appointment are then read in one MULTI, as one snapshot.
    const scheduleId = await this.redis.hget(key, 'scheduleId');
    if (!scheduleId) return null;
    const scheduleKey = ks.schedule(scheduleId);
    deps.add(scheduleKey);
    const replies = await this.redis.multi().hget(scheduleKey, 'cp').hgetall(key).exec();
    if (!replies) throw new Error('Redis discarded the read transaction');
    const [[cpErr, cp], [hashErr, hash]] = replies as [
      [Error | null, string | null],
      [Error | null, Record<string, string>],
    ];
    const failed = cpErr ?? hashErr;
    if (failed) throw failed;
    if (!hash.appointmentId || !hash.scheduleId) return null;
    return { view: hash as AppointmentView, ...(cp ? { checkpoint: cp } : {}) };
  }

  /** Today's homepage counters: bookings per institution and department, and the hottest departments. */
  async todayStats(date: string, institutionIds: readonly string[], hotLimit: number, deps: Deps) {
    const ks = await this.keys(deps);
    const byInstitution = ks.bookingsByInstitution(date);
    const hot = ks.hotDepartments(date);
    deps.add(byInstitution, hot, ks.bookingsByDepartment(date));
    const [counts, hotRaw, total] = await execPipeline(this.redis, (p) => {
      if (institutionIds.length) p.hmget(byInstitution, ...institutionIds);
      else p.echo('');
      p.zrevrange(hot, 0, hotLimit - 1, 'WITHSCORES');
      p.hvals(byInstitution);
    });
    const perInstitution = Array.isArray(counts) ? (counts as (string | null)[]) : [];
    const hotPairs = hotRaw as string[];
    const hotDepartments: { departmentId: string; bookings: number }[] = [];
    for (let i = 0; i + 1 < hotPairs.length; i += 2) {
      hotDepartments.push({ departmentId: hotPairs[i]!, bookings: Number(hotPairs[i + 1]) });
    }
    return {
      date,
      totalBookings: (total as string[]).reduce((sum, n) => sum + Number(n), 0),
      byInstitution: Object.fromEntries(institutionIds.map((id, i) => [id, Number(perInstitution[i] ?? 0)])),
      hotDepartments,
    };
  }
}
