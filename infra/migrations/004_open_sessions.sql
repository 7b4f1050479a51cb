-- One open schedule per doctor session: (doctor, date, period) → the schedule open for it. A row is
-- inserted in the same transaction as the ScheduleOpened append and deleted in the same
-- transaction as the ScheduleClosed append (command-api/open-sessions.ts), so the primary key makes
-- a second open of the same session fail even when two opens race on two instances.
--
-- Schedules opened before this table existed have no row (the rule holds from here on).

CREATE TABLE open_sessions (
  doctor_id    text        NOT NULL,
  date         date        NOT NULL,
  period       text        NOT NULL,
  schedule_id  uuid        NOT NULL UNIQUE,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (doctor_id, date, period)
);
