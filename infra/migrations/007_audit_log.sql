-- Audit trail: every access to a patient's data by a hospital or an admin, and every admin action
-- (forget, rebuilds, dead-letter replays, rule changes). Append-only: the trigger refuses UPDATE and
-- DELETE for everyone, the table owner included (a retention job would drop whole partitions, never
-- rewrite rows). It holds no patient identity in clear: a patient is named by their patient_ref.
-- See docs/adr/0010-patient-data.md.

CREATE TABLE audit_log (
  id                 bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at                 timestamptz NOT NULL DEFAULT clock_timestamp(),
  actor_role         text        NOT NULL CHECK (actor_role IN ('hospital', 'admin', 'operator')),
  actor_id           text        NOT NULL,
  -- the institution a hospital actor acted for
  actor_institution  text,
  -- e.g. appointment.read, appointment.book, schedule.close, patient.forget, projections.rebuild
  action             text        NOT NULL,
  outcome            text        NOT NULL CHECK (outcome IN ('allowed', 'denied')),
  subject_type       text        NOT NULL,
  subject_id         text        NOT NULL,
  trace_id           text,
  detail             jsonb       NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, id);
CREATE INDEX audit_log_subject_idx ON audit_log (subject_type, subject_id, id);
CREATE INDEX audit_log_action_idx ON audit_log (action, id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
