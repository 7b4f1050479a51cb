-- Bounds on the sessions of this database (docs/adr/0002): a transaction left idle is ended after
-- 60 s, whoever opened it (a service, a script, an operator's psql), because any open transaction
-- with an xid holds back the relay and with it every projection. Statements are bounded per pool by
-- the services themselves (platform/pg.ts: statement_timeout 30 s) rather than here, so Debezium's
-- snapshot of a large catalog and long migrations are not cut off. Applies to new sessions.
DO $$
BEGIN
  EXECUTE format('ALTER DATABASE %I SET idle_in_transaction_session_timeout = %L',
                 current_database(), '60s');
END
$$;
