-- Deadlines stored with the events (docs/adr/0012 §3): a hold's expiry and a reservation's release
-- time. Rows are inserted and deleted in the transaction of the events that set and settle them
-- (command-api/deadlines-table.ts, from domain/deadlines.ts `deadlineChangesOf`), so a hold's
-- deadline exists exactly when the hold does. Every command API instance polls the due rows
-- (FOR UPDATE SKIP LOCKED, then a lease in claimed_until/claimed_by) and fires each one's command
-- through the normal command path; the decider makes a second firing a no-op.

CREATE TABLE deadlines (
  kind           text        NOT NULL CHECK (kind IN ('hold_expiry', 'slot_release')),
  -- The appointment (hold_expiry) or the schedule (slot_release).
  subject        text        NOT NULL,
  due_at         timestamptz NOT NULL,
  stream_id      text        NOT NULL,
  claimed_until  timestamptz,
  claimed_by     text,
  PRIMARY KEY (kind, subject, due_at)
);

CREATE INDEX deadlines_due ON deadlines (due_at);
