-- Booking rush (issue 17; docs/adr/0015).
--
-- rush_schedules: whether a schedule's bookings go through the queue. A synchronously written
-- projection of its RushModeChanged events: the row is written in the same transaction as the
-- append (command-api/rush-route.ts), so the command API learns a schedule's mode with one
-- primary-key read (cached for a second) instead of folding the stream.
CREATE TABLE rush_schedules (
  schedule_id     text        PRIMARY KEY,
  institution_id  text        NOT NULL,
  enabled         boolean     NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now()
);

-- booking_requests: one row per booking accepted in rush mode. Inserted (status 'pending') with the
-- ids the request will keep BEFORE it is produced to Kafka, so a retry of the same Idempotency-Key
-- after a crash produces the same request again (the processor decides a request id once);
-- 'queued' once the produce was acknowledged; 'booked' / 'rejected' by the request processor in
-- the transaction that appends the batch's events and completes the key.
CREATE TABLE booking_requests (
  request_id       uuid        PRIMARY KEY,
  appointment_id   uuid        NOT NULL UNIQUE,
  schedule_id      text        NOT NULL,
  -- The Idempotency-Key it was accepted under, with the key row's creation time: a key purged
  -- after its TTL and used again names a new request.
  principal        text        NOT NULL,
  idem_key         text        NOT NULL,
  key_created_at   timestamptz NOT NULL,
  -- Who may read it: the patient (by their opaque reference, never their id: docs/adr/0010).
  patient_ref      text        NOT NULL,
  status           text        NOT NULL CHECK (status IN ('pending', 'queued', 'booked', 'rejected')),
  kafka_partition  integer,
  kafka_offset     bigint,
  -- rejected: the problem (code, detail); booked: the slot reply fields, if numbered.
  outcome          jsonb,
  checkpoint       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  decided_at       timestamptz,
  UNIQUE (principal, idem_key, key_created_at)
);

CREATE INDEX booking_requests_created_at_idx ON booking_requests (created_at);

-- How far the processor decided each partition of the topic: a queued request's position is its
-- offset minus this. Written in the batch's transaction.
CREATE TABLE booking_request_progress (
  topic            text        NOT NULL,
  kafka_partition  integer     NOT NULL,
  decided_offset   bigint      NOT NULL,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (topic, kafka_partition)
);
