-- cfsession fleet schema, version 4: ingest_lines(), one JSON parse per line and no staging table.
-- Version 2's ingest() parsed every line twice (the small fields for the checks, then the
-- wide ones into commands) after a COPY into a per-connection temporary table. Here the
-- batch arrives as arrays (the function's arguments: no temporary table to write, nor to
-- guard against a caller's trigger), each line is parsed once, straight into
-- commands/events, and the checks run after on the small fields that insert returned; a
-- failed check raises, which rolls the whole batch back. The shipper also sends, per line,
-- the session and line number it read it as (its file and position): they only route the
-- work (which sessions to lock, which lines are resent, which month partitions to make) and
-- each is checked against what the line itself says. ingest() stays for older shippers.

-- One parsed line: what commands/events store, and the small fields the checks read.
CREATE TYPE cfsession.ingest_line AS (
    n integer, guid uuid, seq integer, host_id integer, session_id uuid, line_seq integer,
    event_type text, prev_hash text, hash text, hash_ok boolean, started_at timestamptz,
    ts timestamptz, ended_at timestamptz, command_seq integer, duration_ms double precision,
    exit_code integer, status_kind text, cwd text, command text, output text, line text);
CREATE TYPE cfsession.ingest_meta AS (
    n integer, guid uuid, seq integer, session_id uuid, line_seq integer, event_type text,
    prev_hash text, hash text, hash_ok boolean, ended_at timestamptz,
    duration_ms double precision, exit_code integer);

-- The one parse. Lines at or below what the server holds of their session are skipped
-- before it (a resend after a crash costs no parsing). `guid`/`seq` are what the shipper
-- said; `session_id`/`line_seq` what the line says (ingest_check compares them).
-- No SET clauses, so that the planner can inline it into ingest_lines' statement (which
-- sets search_path and the UTC time zone this relies on); only ingest_lines calls it.
CREATE FUNCTION cfsession.ingest_parse(p_lines text[], p_hashes text[], p_guids text[], p_seqs integer[])
RETURNS SETOF cfsession.ingest_line
LANGUAGE sql STABLE AS $fn$
    SELECT u.n::integer, u.guid::uuid, u.seq, s.host_id, x.session_id, x.seq, x.event_type,
           x.prev_hash, u.hash, encode(sha256(convert_to(u.line, 'UTF8')), 'hex') = u.hash,
           coalesce(x.started_at, x.ts), x.ts, x.ended_at, x.command_seq, x.duration_ms,
           x.exit_code, x.status_kind, x.cwd, x.command, x.output, u.line
    FROM unnest(p_lines, p_hashes, p_guids, p_seqs) WITH ORDINALITY AS u(line, hash, guid, seq, n)
    LEFT JOIN cfsession.sessions s ON s.session_guid = u.guid::uuid
    CROSS JOIN LATERAL json_to_record(u.line::json) AS x(
        session_id uuid, seq integer, event_type text, prev_hash text, started_at timestamptz,
        ts timestamptz, ended_at timestamptz, command_seq integer, duration_ms double precision,
        exit_code integer, status_kind text, cwd text, command text, output text)
    WHERE u.seq > coalesce(s.last_seq, 0)
$fn$;

-- The server's decision over one batch's parsed lines; raises (and so rolls back) on the
-- first bad line. Reads the sessions' stored ends (updated only after this passes).
CREATE FUNCTION cfsession.ingest_check(meta cfsession.ingest_meta[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
DECLARE
    bad record;
BEGIN
    SELECT m.guid, m.seq INTO bad FROM unnest(meta) m
    WHERE m.hash_ok IS NOT TRUE ORDER BY m.guid, m.seq LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'session % line %: its hash does not match its content (the line was changed after it was written)',
            bad.guid, bad.seq USING ERRCODE = 'CF001';
    END IF;

    SELECT m.guid, m.seq, m.session_id, m.line_seq INTO bad FROM unnest(meta) m
    WHERE m.session_id IS DISTINCT FROM m.guid OR m.line_seq IS DISTINCT FROM m.seq
    ORDER BY m.guid, m.seq LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'session % line %: the line says it is session % line % (lines were moved, removed or inserted)',
            bad.guid, bad.seq, coalesce(bad.session_id::text, '?'), coalesce(bad.line_seq::text, '?')
            USING ERRCODE = 'CF002';
    END IF;

    -- The chain: each session's first new line follows what is stored, the rest follow
    -- each other; line 1 and only line 1 starts a session; nothing follows its end.
    WITH w AS (
        SELECT m.guid, m.seq, m.prev_hash, m.event_type,
               lag(m.seq) OVER g AS pseq, lag(m.hash) OVER g AS phash,
               lag(m.event_type) OVER g AS ptype, row_number() OVER g AS rn,
               coalesce(s.last_seq, 0) AS last_seq,
               coalesce(s.last_hash, repeat('0', 64)) AS last_hash,
               coalesce(s.complete, false) AS ended
        FROM unnest(meta) m LEFT JOIN cfsession.sessions s ON s.session_guid = m.guid
        WINDOW g AS (PARTITION BY m.guid ORDER BY m.seq)
    )
    SELECT * INTO bad FROM w
    WHERE w.ended OR w.ptype = 'session_end'
       OR (w.rn = 1 AND (w.seq <> w.last_seq + 1 OR w.prev_hash IS DISTINCT FROM w.last_hash))
       OR (w.rn > 1 AND (w.seq <> w.pseq + 1 OR w.prev_hash IS DISTINCT FROM w.phash))
       OR ((w.seq = 1) IS DISTINCT FROM (w.event_type = 'session_start'))
    ORDER BY w.guid, w.seq LIMIT 1;
    IF FOUND THEN
        IF bad.ended OR bad.ptype = 'session_end' THEN
            RAISE EXCEPTION 'session % line %: the session already ended at line %',
                bad.guid, bad.seq, CASE WHEN bad.ended THEN bad.last_seq ELSE bad.pseq END
                USING ERRCODE = 'CF002';
        ELSIF bad.rn = 1 AND bad.seq <> bad.last_seq + 1 THEN
            RAISE EXCEPTION 'session % line %: the server holds lines up to %, so line % must come next',
                bad.guid, bad.seq, bad.last_seq, bad.last_seq + 1 USING ERRCODE = 'CF002';
        ELSE
            RAISE EXCEPTION 'session % line %: it does not link to line % (a line was edited, removed, inserted or moved)',
                bad.guid, bad.seq, bad.seq - 1 USING ERRCODE = 'CF002';
        END IF;
    END IF;
END
$fn$;

-- Ingest one batch, in the caller's transaction. Per line: its canonical JSON (what its
-- hash covers), that hash, and the session id and line number the shipper read it as;
-- p_months: a start time of the batch's commands in each month they started in, so that
-- the month partitions are made beforehand (a month left out costs a second pass).
-- Same rules and errors as ingest(): CF001 hash, CF002 link/sequence, CF003 wrong login;
-- lines already stored are skipped. Returns the number of lines stored.
CREATE FUNCTION cfsession.ingest_lines(p_lines text[], p_hashes text[], p_guids text[],
                                       p_seqs integer[], p_months text[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog SET timezone = 'UTC' SET client_min_messages = warning
SET work_mem = '64MB' AS $fn$
DECLARE
    n integer := coalesce(cardinality(p_lines), 0);
    meta cfsession.ingest_meta[];
    bad record;
    h record;
    mon record;
    state text;
BEGIN
    IF n = 0 THEN
        RETURN 0;
    END IF;
    IF coalesce(cardinality(p_hashes), 0) <> n OR coalesce(cardinality(p_guids), 0) <> n
       OR coalesce(cardinality(p_seqs), 0) <> n
       OR array_position(p_guids, NULL) IS NOT NULL OR array_position(p_seqs, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'ingest_lines: every line needs a hash, a session id and a line number'
            USING ERRCODE = '22023';
    END IF;

    -- Serialise with any other ingest of the same sessions.
    PERFORM 1 FROM cfsession.sessions s
    WHERE s.session_guid IN (SELECT DISTINCT g::uuid FROM unnest(p_guids) g)
    ORDER BY s.session_guid FOR UPDATE;

    -- New sessions, from their first lines (one per session: parsed here for the header).
    -- Who may ship: a host belongs to one login.
    FOR h IN
        SELECT DISTINCT ON (u.guid) u.guid::uuid AS guid, x.*
        FROM unnest(p_lines, p_guids, p_seqs) AS u(line, guid, seq)
        CROSS JOIN LATERAL json_to_record(u.line::json) AS x(
            host text, name text, "user" text, shell text, cwd text, session_type text,
            parent_session_id text, correlation_id text, pid bigint, actor text,
            started_at timestamptz, ts timestamptz)
        WHERE u.seq = 1 AND NOT EXISTS (SELECT 1 FROM cfsession.sessions s WHERE s.session_guid = u.guid::uuid)
        ORDER BY u.guid
    LOOP
        INSERT INTO cfsession.hosts (name, login) VALUES (coalesce(h.host, ''), session_user)
        ON CONFLICT (name) DO NOTHING;
        UPDATE cfsession.hosts SET login = session_user WHERE name = coalesce(h.host, '') AND login IS NULL;
        INSERT INTO cfsession.sessions (session_guid, host_id, name, user_name, shell, cwd,
            session_type, parent_session_id, correlation_id, pid, actor, started_at, last_hash)
        SELECT h.guid, hs.host_id, h.name, h."user", h.shell, h.cwd, h.session_type,
               h.parent_session_id, h.correlation_id, h.pid, h.actor, coalesce(h.started_at, h.ts),
               repeat('0', 64)
        FROM cfsession.hosts hs WHERE hs.name = coalesce(h.host, '');
    END LOOP;
    SELECT hs.name, hs.login INTO bad FROM cfsession.hosts hs
    WHERE hs.login IS DISTINCT FROM session_user
      AND hs.host_id IN (SELECT s.host_id FROM cfsession.sessions s
                         WHERE s.session_guid IN (SELECT DISTINCT g::uuid FROM unnest(p_guids) g))
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'host % ships as login %, not as %', bad.name, bad.login, session_user
            USING ERRCODE = 'CF003';
    END IF;

    FOR mon IN SELECT DISTINCT date_trunc('month', t::timestamptz) AS month
             FROM unnest(p_months) t WHERE t <> '' LOOP
        PERFORM cfsession.ensure_partition(mon.month);
    END LOOP;

    -- Store first, check after: the one parse feeds both inserts and the checks.
    FOR attempt IN 1..2 LOOP
        BEGIN
            WITH p AS MATERIALIZED (
                SELECT * FROM cfsession.ingest_parse(p_lines, p_hashes, p_guids, p_seqs)
            ), c AS (
                INSERT INTO cfsession.commands (session_guid, seq, host_id, command_seq, started_at,
                    ended_at, duration_ms, exit_code, status_kind, cwd, command, output, line, hash)
                SELECT p.guid, p.seq, p.host_id, p.command_seq, p.started_at, p.ended_at,
                       p.duration_ms, p.exit_code, p.status_kind, p.cwd, p.command, p.output, p.line, p.hash
                FROM p WHERE p.event_type = 'terminal_capture' AND p.host_id IS NOT NULL
            ), e AS (
                INSERT INTO cfsession.events (session_guid, seq, host_id, event_type, ts, line, hash)
                SELECT p.guid, p.seq, p.host_id, coalesce(p.event_type, ''), p.ts, p.line, p.hash
                FROM p WHERE p.event_type IS DISTINCT FROM 'terminal_capture' AND p.host_id IS NOT NULL
            )
            SELECT array_agg(ROW(p.n, p.guid, p.seq, p.session_id, p.line_seq, p.event_type,
                                 p.prev_hash, p.hash, p.hash_ok, p.ended_at, p.duration_ms,
                                 p.exit_code)::cfsession.ingest_meta ORDER BY p.n)
            INTO meta FROM p;
            EXIT;
        EXCEPTION WHEN unique_violation OR check_violation OR not_null_violation THEN
            -- A line the checks would refuse (sent twice, moved, a month the shipper did not
            -- name): name it as they do. Else a missing partition is made and the batch
            -- stored again; anything else is the server's own error.
            GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE;
            SELECT array_agg(ROW(p.n, p.guid, p.seq, p.session_id, p.line_seq, p.event_type,
                                 p.prev_hash, p.hash, p.hash_ok, p.ended_at, p.duration_ms,
                                 p.exit_code)::cfsession.ingest_meta ORDER BY p.n)
            INTO meta FROM cfsession.ingest_parse(p_lines, p_hashes, p_guids, p_seqs) p;
            PERFORM cfsession.ingest_check(meta);
            IF state <> '23514' OR attempt > 1 THEN
                RAISE;
            END IF;
            FOR mon IN SELECT DISTINCT date_trunc('month', p.started_at) AS month
                     FROM cfsession.ingest_parse(p_lines, p_hashes, p_guids, p_seqs) p
                     WHERE p.event_type = 'terminal_capture' AND p.started_at IS NOT NULL LOOP
                PERFORM cfsession.ensure_partition(mon.month);
            END LOOP;
        END;
    END LOOP;
    IF meta IS NULL THEN
        RETURN 0;  -- everything was already stored
    END IF;
    PERFORM cfsession.ingest_check(meta);

    UPDATE cfsession.sessions s SET
        last_seq = a.last_seq, last_hash = a.last_hash,
        command_count = s.command_count + a.cmds, failed_count = s.failed_count + a.failed,
        complete = s.complete OR a.ended_at IS NOT NULL,
        ended_at = coalesce(a.ended_at, s.ended_at),
        duration_ms = coalesce(a.duration_ms, s.duration_ms),
        exit_code = coalesce(a.exit_code, s.exit_code),
        shipped_at = now()
    FROM (
        SELECT m.guid, max(m.seq) AS last_seq, (array_agg(m.hash ORDER BY m.seq DESC))[1] AS last_hash,
               count(*) FILTER (WHERE m.event_type = 'terminal_capture') AS cmds,
               count(*) FILTER (WHERE m.event_type = 'terminal_capture' AND m.exit_code <> 0) AS failed,
               max(m.ended_at) FILTER (WHERE m.event_type = 'session_end') AS ended_at,
               max(m.duration_ms) FILTER (WHERE m.event_type = 'session_end') AS duration_ms,
               max(m.exit_code) FILTER (WHERE m.event_type = 'session_end') AS exit_code
        FROM unnest(meta) m GROUP BY m.guid
    ) a
    WHERE s.session_guid = a.guid;

    UPDATE cfsession.hosts hs SET last_seen = now()
    WHERE hs.host_id IN (SELECT s.host_id FROM cfsession.sessions s
                         WHERE s.session_guid IN (SELECT DISTINCT m.guid FROM unnest(meta) m));
    RETURN cardinality(meta);
END
$fn$;

-- New functions are executable by PUBLIC by default: only ingest_lines is the shipper's.
REVOKE ALL ON FUNCTION cfsession.ingest_parse(text[], text[], text[], integer[]),
    cfsession.ingest_check(cfsession.ingest_meta[]),
    cfsession.ingest_lines(text[], text[], text[], integer[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cfsession.ingest_lines(text[], text[], text[], integer[], text[])
    TO cfsession_shipper;
