-- One statement for the common command commit (docs/adr/0023-booking-round-trips.md): append the
-- events expecting the stream's revision, index the booked appointments, record the audit entries
-- and complete the Idempotency-Key with its response, all in the one implicit transaction of a
-- single statement. It replaces BEGIN, four statements and COMMIT (six round trips) with one, and
-- guarantees exactly what that transaction did:
--
-- - optimistic concurrency: the revision moves with a conditional UPDATE (a concurrent writer
--   blocks on the row lock, then matches nothing); no row matched returns no rows (a conflict),
--   and UNIQUE (stream_id, stream_revision) still backs it;
-- - the key's completion is the same conditional UPDATE as PgIdempotencyStore.complete; when the
--   claim was taken over (its lease lapsed) it raises SQLSTATE 'BK409' and nothing commits;
-- - the stored response's checkpoint is only known here: the caller builds it with a placeholder
--   string (p_placeholder) that is replaced by "<transaction_id>:<global_position>" of the last event.
--
-- Only an existing stream (an exact expected revision) takes this path; opening a stream, session
-- claims, deadlines and per-patient rules keep the general transaction (command-path.ts).

CREATE OR REPLACE FUNCTION command_commit(
  p_stream_id            text,
  p_expected             bigint,
  p_event_ids            uuid[],
  p_types                text[],
  p_data                 jsonb[],
  p_metadata             jsonb[],
  -- appointment_index rows (may be empty)
  p_index_ids            uuid[],
  p_index_schedule_ids   uuid[],
  p_index_institutions   text[],
  p_index_patient_refs   uuid[],
  -- audit_log rows (may be empty)
  p_audit_roles          text[],
  p_audit_ids            text[],
  p_audit_institutions   text[],
  p_audit_actions        text[],
  p_audit_outcomes       text[],
  p_audit_subject_types  text[],
  p_audit_subject_ids    text[],
  p_audit_details        jsonb[],
  p_trace_id             text,
  -- the Idempotency-Key (NULL principal: a command without one)
  p_key_principal        text,
  p_key                  text,
  p_key_token            uuid,
  p_response             text,
  p_placeholder          text
) RETURNS TABLE (
  global_position  bigint,
  transaction_id   xid8,
  event_id         uuid,
  stream_revision  bigint,
  created_at       timestamptz
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  n          bigint := cardinality(p_event_ids);
  v_revision bigint;
  v_last     record;
BEGIN
  UPDATE event_streams s SET revision = s.revision + n, updated_at = now()
   WHERE s.stream_id = p_stream_id AND s.revision = p_expected
  RETURNING s.revision INTO v_revision;
  IF NOT FOUND THEN
    RETURN; -- a conflict: nothing written
  END IF;

  RETURN QUERY
  INSERT INTO events AS ev (event_id, stream_id, stream_revision, event_type, data, metadata)
  SELECT e.id, p_stream_id, v_revision - n + e.ord, e.type, e.data, e.metadata
    FROM unnest(p_event_ids, p_types, p_data, p_metadata) WITH ORDINALITY AS e(id, type, data, metadata, ord)
   ORDER BY e.ord
  RETURNING ev.global_position, ev.transaction_id, ev.event_id, ev.stream_revision, ev.created_at;

  IF cardinality(p_index_ids) > 0 THEN
    INSERT INTO appointment_index (appointment_id, schedule_id, stream_id, institution_id, patient_ref)
    SELECT a, sc, p_stream_id, i, pr
      FROM unnest(p_index_ids, p_index_schedule_ids, p_index_institutions, p_index_patient_refs) AS t(a, sc, i, pr);
  END IF;

  IF cardinality(p_audit_roles) > 0 THEN
    INSERT INTO audit_log
           (actor_role, actor_id, actor_institution, action, outcome, subject_type, subject_id, trace_id, detail)
    SELECT r, i, ni, a, o, st, si, p_trace_id, d
      FROM unnest(p_audit_roles, p_audit_ids, p_audit_institutions, p_audit_actions, p_audit_outcomes,
                  p_audit_subject_types, p_audit_subject_ids, p_audit_details) AS t(r, i, ni, a, o, st, si, d);
  END IF;

  IF p_key_principal IS NOT NULL THEN
    SELECT e.global_position, e.transaction_id INTO v_last
      FROM events e WHERE e.stream_id = p_stream_id AND e.stream_revision = v_revision;
    UPDATE idempotency_keys k
       SET status = 'completed',
           response = replace(p_response, p_placeholder, v_last.transaction_id::text || ':' || v_last.global_position::text)::jsonb,
           completed_at = now()
     WHERE k.principal = p_key_principal AND k.idem_key = p_key AND k.lease_token = p_key_token
       AND k.status = 'in_flight';
    IF NOT FOUND THEN
      RAISE EXCEPTION 'Another request took over this Idempotency-Key' USING ERRCODE = 'BK409';
    END IF;
  END IF;
END
$$;
