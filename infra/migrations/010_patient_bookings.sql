-- The per-patient rules of numbered schedules (docs/adr/0012 §4), a synchronously written
-- projection of the schedule streams: one row per appointment, written in the append's
-- transaction from the decision's events (domain/patient-rules.ts `patientFactsOf`; adapter
-- command-api/patient-bookings.ts). The partial unique index holds "one active appointment per
-- patient per doctor per day" even if the code is wrong; the other rules (at most N active, the
-- no-show limit) are checked under a row lock of patient_locks, taken in patient_ref order.

CREATE TABLE patient_bookings (
  appointment_id  uuid        PRIMARY KEY,
  patient_ref     text        NOT NULL,
  schedule_id     uuid        NOT NULL,
  doctor_id       text        NOT NULL,
  date            date        NOT NULL,
  status          text        NOT NULL CHECK (status IN ('active', 'ended', 'no_show')),
  no_show_at      timestamptz,
  updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX patient_bookings_one_per_doctor_day
  ON patient_bookings (patient_ref, doctor_id, date) WHERE status = 'active';
CREATE INDEX patient_bookings_patient ON patient_bookings (patient_ref) WHERE status = 'active' OR no_show_at IS NOT NULL;

-- One row per patient who ever booked a numbered slot: what `SELECT … FOR UPDATE` locks.
CREATE TABLE patient_locks (
  patient_ref  text PRIMARY KEY
);
