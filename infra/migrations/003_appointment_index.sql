-- appointment_id → the schedule stream that holds it, written in the same transaction as the
-- AppointmentBooked append. See docs/adr/0001-schedule-stream-and-appointment-addressing.md.

CREATE TABLE appointment_index (
  appointment_id  uuid        PRIMARY KEY,
  schedule_id     uuid        NOT NULL,
  stream_id       text        NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX appointment_index_schedule_idx ON appointment_index (schedule_id);
