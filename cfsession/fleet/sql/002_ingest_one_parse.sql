-- cfsession fleet schema, version 2: a cheaper ingest() (same checks, same results).
-- Version 1 parsed each line into a wide staging table (command, output and the line
-- itself written once more, TOAST work included) and then copied that into commands:
-- about 3 x the cost of a plain COPY of the stored rows. Now the checks run on a narrow
-- table of the small fields (cfs_meta, which points at its stage row by ctid), and the
-- wide text goes from the stage row straight into commands/events.

CREATE OR REPLACE FUNCTION cfsession.open_batch() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog SET client_min_messages = warning AS $fn$
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS cfs_stage (line text NOT NULL, hash text NOT NULL)
        ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS cfs_meta (
        rid tid NOT NULL, guid uuid, seq integer, event_type text, prev_hash text, hash text,
        hash_ok boolean, started_at timestamptz, ts timestamptz, ended_at timestamptz,
        duration_ms double precision, exit_code integer, host text, name text, user_name text,
        shell text, cwd text, session_type text, parent_session_id text, correlation_id text,
        pid bigint, actor text
    ) ON COMMIT DELETE ROWS;
    PERFORM cfsession.check_stage();
    EXECUTE format('GRANT INSERT ON pg_temp.cfs_stage TO %I', session_user);
END
$fn$;

CREATE OR REPLACE FUNCTION cfsession.check_stage() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_class c
               WHERE c.oid IN (to_regclass('pg_temp.cfs_stage'), to_regclass('pg_temp.cfs_meta'))
                 AND (c.relowner <> (SELECT r.oid FROM pg_roles r WHERE r.rolname = current_user)
                      OR c.relkind <> 'r' OR c.relhastriggers OR c.relhasrules OR c.relrowsecurity))
       OR to_regclass('pg_temp.cfs_stage') IS NULL OR to_regclass('pg_temp.cfs_meta') IS NULL THEN
        RAISE EXCEPTION 'the staging tables of this connection were not made by cfsession.open_batch()'
            USING ERRCODE = '42501';
    END IF;
END
$fn$;

-- Ingest one batch: the caller COPYs lines into pg_temp.cfs_stage(line, hash) (see
-- open_batch) and calls this in the same transaction.
-- The server decides: each line must hash to its `hash`, link to the previous line (the
-- last stored one for the first line of a session in the batch) and carry the next seq;
-- lines already stored are skipped, which makes a resend after a crash insert nothing twice.
-- Returns the number of lines stored.
CREATE OR REPLACE FUNCTION cfsession.ingest() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog SET timezone = 'UTC' SET client_min_messages = warning AS $fn$
DECLARE
    bad record;
    m record;
    stored integer;
BEGIN
    PERFORM cfsession.check_stage();
    -- The small fields only: the checks below read these, and command/output/line stay in
    -- the stage row until they are stored (once) in commands.
    INSERT INTO pg_temp.cfs_meta
    SELECT s.ctid, x.session_id, x.seq, x.event_type, x.prev_hash, s.hash,
           encode(sha256(convert_to(s.line, 'UTF8')), 'hex') = s.hash,
           coalesce(x.started_at, x.ts), x.ts, x.ended_at, x.duration_ms, x.exit_code, x.host,
           x.name, x."user", x.shell, x.cwd, x.session_type, x.parent_session_id,
           x.correlation_id, x.pid, x.actor
    FROM pg_temp.cfs_stage s CROSS JOIN LATERAL json_to_record(s.line::json) AS x(
        session_id uuid, seq integer, event_type text, prev_hash text, started_at timestamptz,
        ts timestamptz, ended_at timestamptz, duration_ms double precision, exit_code integer,
        host text, name text, "user" text, shell text, cwd text, session_type text,
        parent_session_id text, correlation_id text, pid bigint, actor text);

    SELECT p.guid, p.seq INTO bad FROM pg_temp.cfs_meta p
    WHERE p.hash_ok IS NOT TRUE OR p.guid IS NULL OR p.seq IS NULL ORDER BY p.guid, p.seq LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'session % line %: its hash does not match its content (the line was changed after it was written)',
            bad.guid, bad.seq USING ERRCODE = 'CF001';
    END IF;

    -- Serialise with any other ingest of the same sessions.
    PERFORM 1 FROM cfsession.sessions s
    WHERE s.session_guid IN (SELECT DISTINCT p.guid FROM pg_temp.cfs_meta p)
    ORDER BY s.session_guid FOR UPDATE;

    -- Resent lines (a crash between commit and the shipper's checkpoint) are skipped.
    DELETE FROM pg_temp.cfs_meta p USING cfsession.sessions s
    WHERE s.session_guid = p.guid AND p.seq <= s.last_seq;

    -- Who may ship: a host belongs to one login.
    INSERT INTO cfsession.hosts (name, login)
    SELECT DISTINCT coalesce(p.host, ''), session_user FROM pg_temp.cfs_meta p WHERE p.seq = 1
    ON CONFLICT (name) DO NOTHING;
    UPDATE cfsession.hosts h SET login = session_user
    WHERE h.login IS NULL AND h.name IN (SELECT coalesce(p.host, '') FROM pg_temp.cfs_meta p WHERE p.seq = 1);
    SELECT h.name, h.login INTO bad FROM cfsession.hosts h
    WHERE h.login IS DISTINCT FROM session_user
      AND (h.name IN (SELECT coalesce(p.host, '') FROM pg_temp.cfs_meta p WHERE p.seq = 1)
           OR h.host_id IN (SELECT s.host_id FROM cfsession.sessions s
                            WHERE s.session_guid IN (SELECT p.guid FROM pg_temp.cfs_meta p)))
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'host % ships as login %, not as %', bad.name, bad.login, session_user
            USING ERRCODE = 'CF003';
    END IF;

    -- The chain: each session's first new line follows what is stored, the rest follow each other.
    WITH w AS (
        SELECT p.guid, p.seq, p.prev_hash, p.event_type,
               lag(p.seq) OVER g AS pseq, lag(p.hash) OVER g AS phash,
               row_number() OVER g AS rn,
               coalesce(s.last_seq, 0) AS last_seq,
               coalesce(s.last_hash, repeat('0', 64)) AS last_hash,
               coalesce(s.complete, false) AS ended
        FROM pg_temp.cfs_meta p LEFT JOIN cfsession.sessions s ON s.session_guid = p.guid
        WINDOW g AS (PARTITION BY p.guid ORDER BY p.seq)
    )
    SELECT * INTO bad FROM w
    WHERE w.ended
       OR (w.rn = 1 AND (w.seq <> w.last_seq + 1 OR w.prev_hash IS DISTINCT FROM w.last_hash))
       OR (w.rn > 1 AND (w.seq <> w.pseq + 1 OR w.prev_hash IS DISTINCT FROM w.phash))
       OR ((w.seq = 1) <> (w.event_type = 'session_start'))
    ORDER BY w.guid, w.seq LIMIT 1;
    IF FOUND THEN
        IF bad.ended THEN
            RAISE EXCEPTION 'session % line %: the session already ended at line %',
                bad.guid, bad.seq, bad.last_seq USING ERRCODE = 'CF002';
        ELSIF bad.rn = 1 AND bad.seq <> bad.last_seq + 1 THEN
            RAISE EXCEPTION 'session % line %: the server holds lines up to %, so line % must come next',
                bad.guid, bad.seq, bad.last_seq, bad.last_seq + 1 USING ERRCODE = 'CF002';
        ELSE
            RAISE EXCEPTION 'session % line %: it does not link to line % (a line was edited, removed, inserted or moved)',
                bad.guid, bad.seq, bad.seq - 1 USING ERRCODE = 'CF002';
        END IF;
    END IF;

    INSERT INTO cfsession.sessions (session_guid, host_id, name, user_name, shell, cwd,
        session_type, parent_session_id, correlation_id, pid, actor, started_at, last_hash)
    SELECT p.guid, h.host_id, p.name, p.user_name, p.shell, p.cwd, p.session_type,
           p.parent_session_id, p.correlation_id, p.pid, p.actor, p.started_at, repeat('0', 64)
    FROM pg_temp.cfs_meta p JOIN cfsession.hosts h ON h.name = coalesce(p.host, '')
    WHERE p.seq = 1;

    FOR m IN SELECT DISTINCT date_trunc('month', p.started_at) AS month
             FROM pg_temp.cfs_meta p WHERE p.event_type = 'terminal_capture' LOOP
        PERFORM cfsession.ensure_partition(m.month);
    END LOOP;

    -- The second (and last) parse of a command line: the wide fields, read from the stage
    -- row that passed the checks, stored once.
    INSERT INTO cfsession.commands (session_guid, seq, host_id, command_seq, started_at,
        ended_at, duration_ms, exit_code, status_kind, cwd, command, output, line, hash)
    SELECT p.guid, p.seq, s.host_id, x.command_seq, p.started_at, p.ended_at, p.duration_ms,
           p.exit_code, x.status_kind, p.cwd, x.command, x.output, t.line, p.hash
    FROM pg_temp.cfs_meta p
    CROSS JOIN LATERAL (SELECT st.line FROM pg_temp.cfs_stage st WHERE st.ctid = p.rid OFFSET 0) t
    JOIN cfsession.sessions s ON s.session_guid = p.guid
    CROSS JOIN LATERAL json_to_record(t.line::json) AS x(
        command_seq integer, status_kind text, command text, output text)
    WHERE p.event_type = 'terminal_capture';

    INSERT INTO cfsession.events (session_guid, seq, host_id, event_type, ts, line, hash)
    SELECT p.guid, p.seq, s.host_id, coalesce(p.event_type, ''), p.ts, t.line, p.hash
    FROM pg_temp.cfs_meta p
    CROSS JOIN LATERAL (SELECT st.line FROM pg_temp.cfs_stage st WHERE st.ctid = p.rid OFFSET 0) t
    JOIN cfsession.sessions s ON s.session_guid = p.guid
    WHERE p.event_type IS DISTINCT FROM 'terminal_capture';

    UPDATE cfsession.sessions s SET
        last_seq = a.last_seq, last_hash = a.last_hash,
        command_count = s.command_count + a.cmds, failed_count = s.failed_count + a.failed,
        complete = s.complete OR a.ended_at IS NOT NULL,
        ended_at = coalesce(a.ended_at, s.ended_at),
        duration_ms = coalesce(a.duration_ms, s.duration_ms),
        exit_code = coalesce(a.exit_code, s.exit_code),
        shipped_at = now()
    FROM (
        SELECT p.guid, max(p.seq) AS last_seq, (array_agg(p.hash ORDER BY p.seq DESC))[1] AS last_hash,
               count(*) FILTER (WHERE p.event_type = 'terminal_capture') AS cmds,
               count(*) FILTER (WHERE p.event_type = 'terminal_capture' AND p.exit_code <> 0) AS failed,
               max(p.ended_at) FILTER (WHERE p.event_type = 'session_end') AS ended_at,
               max(p.duration_ms) FILTER (WHERE p.event_type = 'session_end') AS duration_ms,
               max(p.exit_code) FILTER (WHERE p.event_type = 'session_end') AS exit_code
        FROM pg_temp.cfs_meta p GROUP BY p.guid
    ) a
    WHERE s.session_guid = a.guid;

    SELECT count(*) INTO stored FROM pg_temp.cfs_meta;
    UPDATE cfsession.hosts h SET last_seen = now()
    WHERE h.host_id IN (SELECT s.host_id FROM cfsession.sessions s
                        WHERE s.session_guid IN (SELECT DISTINCT p.guid FROM pg_temp.cfs_meta p));
    RETURN stored;
END
$fn$;

-- Search: the tsvector is stored (computed by index_pending, never by ingest) instead of
-- recomputed from an expression. With a column the planner has statistics on its words,
-- so a common word is answered by walking started_at newest first through the month
-- partitions and stopping at the LIMIT (each row's stored doc is checked, not recomputed),
-- and a rare word by the GIN index; before, every match was fetched and sorted.
ALTER TABLE cfsession.commands ADD COLUMN doc tsvector;
DROP INDEX cfsession.commands_fts;
UPDATE cfsession.commands SET doc = cfsession.search_doc(command, output) WHERE indexed;
CREATE INDEX commands_doc ON cfsession.commands USING gin (doc) WHERE indexed;

CREATE OR REPLACE FUNCTION cfsession.index_pending(n integer DEFAULT 10000) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
DECLARE
    done integer;
BEGIN
    WITH p AS (
        SELECT c.session_guid, c.seq, c.started_at FROM cfsession.commands c
        WHERE NOT c.indexed ORDER BY c.started_at LIMIT n FOR UPDATE SKIP LOCKED
    )
    UPDATE cfsession.commands c SET indexed = true, doc = cfsession.search_doc(c.command, c.output)
    FROM p
    WHERE c.session_guid = p.session_guid AND c.seq = p.seq AND c.started_at = p.started_at;
    GET DIAGNOSTICS done = ROW_COUNT;
    RETURN done;
END
$fn$;
