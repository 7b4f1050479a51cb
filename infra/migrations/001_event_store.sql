-- Event store: one row per stream (its current revision, the optimistic-concurrency point)
-- and one row per event. See docs/adr/0002-event-store-global-order.md.

CREATE TABLE event_streams (
  stream_id   text        PRIMARY KEY,
  -- revision of the last event (first event is revision 0)
  revision    bigint      NOT NULL CHECK (revision >= 0),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE events (
  global_position  bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- The writing transaction: readAll only returns events whose transaction is older than every
  -- transaction still running, so an event that commits late is never skipped.
  transaction_id   xid8        NOT NULL DEFAULT pg_current_xact_id(),
  event_id         uuid        NOT NULL,
  stream_id        text        NOT NULL,
  stream_revision  bigint      NOT NULL CHECK (stream_revision >= 0),
  event_type       text        NOT NULL,
  data             jsonb       NOT NULL,
  metadata         jsonb       NOT NULL DEFAULT '{}'::jsonb,
  created_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT events_stream_revision_key UNIQUE (stream_id, stream_revision),
  CONSTRAINT events_event_id_key UNIQUE (event_id)
);

-- The global read order.
CREATE INDEX events_global_order_idx ON events (transaction_id, global_position);
