-- cfsession fleet schema, version 4: ingest_lines(), one JSON parse per line and no staging table.
-- Version 2's ingest() parsed every line twice (the small fields for the checks, then the
-- wide ones into commands) after a COPY into a per-connection temporary table. Here the
-- batch arrives as the arguments of one call (no temporary table to write, nor to guard
-- against a caller's trigger), and each line is parsed once, in the INSERT that stores it.
--
-- How the checks can come before that parse: the shipper sends, beside each line and its
-- hash, what it read in it — session id, line number, prev_hash, event_type. The chain is
-- checked on those (small, no parsing). Then, as each line is parsed into its row, the
-- INSERT compares the line's own values with them and its SHA-256 with its hash, and raises
-- on any difference (which rolls the whole batch back). So what was checked is what is
-- stored: the server still decides, from the line itself. ingest() stays for older shippers.

-- The chain over what the shipper says each line holds (ingest_lines verifies that as it
-- stores each line). Lines at or below what the server holds of their session are left
-- out here as there. Raises CF002 on the first line that does not follow.
CREATE FUNCTION cfsession.ingest_check(p_guids uuid[], p_seqs integer[], p_hashes text[],
                                       p_prevs text[], p_types text[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
DECLARE
    bad record;
BEGIN
    -- Each session's first new line follows what is stored, the rest follow each other;
    -- line 1 and only line 1 starts a session; nothing follows its end.
    WITH w AS (
        SELECT u.guid, u.seq, u.prev, u.type,
               lag(u.seq) OVER g AS pseq, lag(u.hash) OVER g AS phash,
               lag(u.type) OVER g AS ptype, row_number() OVER g AS rn,
               coalesce(s.last_seq, 0) AS last_seq,
               coalesce(s.last_hash, repeat('0', 64)) AS last_hash,
               coalesce(s.complete, false) AS ended
        FROM unnest(p_guids, p_seqs, p_hashes, p_prevs, p_types) AS u(guid, seq, hash, prev, type)
        LEFT JOIN cfsession.sessions s ON s.session_guid = u.guid
        WHERE u.seq > coalesce(s.last_seq, 0)
        WINDOW g AS (PARTITION BY u.guid ORDER BY u.seq)
    )
    SELECT * INTO bad FROM w
    WHERE w.ended OR w.ptype = 'session_end'
       OR (w.rn = 1 AND (w.seq <> w.last_seq + 1 OR w.prev IS DISTINCT FROM w.last_hash))
       OR (w.rn > 1 AND (w.seq <> w.pseq + 1 OR w.prev IS DISTINCT FROM w.phash))
       OR ((w.seq = 1) <> (w.type = 'session_start'))
    ORDER BY w.guid, w.seq LIMIT 1;
    IF FOUND THEN
        IF bad.ended OR bad.ptype = 'session_end' THEN
            RAISE EXCEPTION 'session % line %: the session already ended at line %',
                bad.guid, bad.seq, CASE WHEN bad.ended THEN bad.last_seq ELSE bad.pseq END
                USING ERRCODE = 'CF002';
        ELSIF bad.rn = 1 AND bad.seq <> bad.last_seq + 1 THEN
            RAISE EXCEPTION 'session % line %: the server holds lines up to %, so line % must come next',
                bad.guid, bad.seq, bad.last_seq, bad.last_seq + 1 USING ERRCODE = 'CF002';
        ELSIF bad.seq = bad.pseq THEN
            RAISE EXCEPTION 'session % line %: sent twice in one batch', bad.guid, bad.seq
                USING ERRCODE = 'CF002';
        ELSE
            RAISE EXCEPTION 'session % line %: it does not link to line % (a line was edited, removed, inserted or moved)',
                bad.guid, bad.seq, bad.seq - 1 USING ERRCODE = 'CF002';
        END IF;
    END IF;
END
$fn$;

-- Called by ingest_lines' INSERTs for a line that is not what the shipper said it is:
-- names the line and raises. Never returns.
CREATE FUNCTION cfsession.ingest_refuse(guid uuid, seq integer, hash_ok boolean, line_guid uuid,
                                        line_seq integer) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
BEGIN
    IF hash_ok IS NOT TRUE THEN
        RAISE EXCEPTION 'session % line %: its hash does not match its content (the line was changed after it was written)',
            guid, seq USING ERRCODE = 'CF001';
    END IF;
    IF line_guid IS DISTINCT FROM guid OR line_seq IS DISTINCT FROM seq THEN
        RAISE EXCEPTION 'session % line %: the line says it is session % line % (lines were moved, removed or inserted)',
            guid, seq, coalesce(line_guid::text, '?'), coalesce(line_seq::text, '?') USING ERRCODE = 'CF002';
    END IF;
    RAISE EXCEPTION 'session % line %: its prev_hash, event_type or start is not what was sent with it',
        guid, seq USING ERRCODE = 'CF002';
END
$fn$;

-- Ingest one batch, in the caller's transaction. Per line: its canonical JSON (what its
-- hash covers), that hash, and what the shipper read in it (session id, line number,
-- prev_hash, event_type, and a command's started_at (else ts), which names its month
-- partition; '' for a missing text). Same rules and errors as ingest(): CF001 hash,
-- CF002 link/sequence, CF003 wrong login; lines already stored are skipped. Returns the
-- number of lines stored.
CREATE FUNCTION cfsession.ingest_lines(p_lines text[], p_hashes text[], p_guids text[],
                                       p_seqs integer[], p_prevs text[], p_types text[],
                                       p_started text[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog SET timezone = 'UTC' SET client_min_messages = warning AS $fn$
DECLARE
    total integer := coalesce(cardinality(p_lines), 0);
    guids uuid[];
    bad record;
    h record;
    mon record;
    kept integer;
    cmds integer := 0;
    evs integer := 0;
BEGIN
    IF total = 0 THEN
        RETURN 0;
    END IF;
    IF coalesce(cardinality(p_hashes), 0) <> total OR coalesce(cardinality(p_guids), 0) <> total
       OR coalesce(cardinality(p_seqs), 0) <> total OR coalesce(cardinality(p_prevs), 0) <> total
       OR coalesce(cardinality(p_types), 0) <> total OR coalesce(cardinality(p_started), 0) <> total
       OR array_position(p_guids, NULL) IS NOT NULL OR array_position(p_seqs, NULL) IS NOT NULL
       OR array_position(p_hashes, NULL) IS NOT NULL OR array_position(p_prevs, NULL) IS NOT NULL
       OR array_position(p_types, NULL) IS NOT NULL OR array_position(p_started, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'ingest_lines: every line needs a hash, a session id, a line number, a prev_hash, an event type and a start'
            USING ERRCODE = '22023';
    END IF;
    guids := p_guids::uuid[];

    -- Serialise with any other ingest of the same sessions.
    PERFORM 1 FROM cfsession.sessions s
    WHERE s.session_guid IN (SELECT DISTINCT g FROM unnest(guids) g)
    ORDER BY s.session_guid FOR UPDATE;

    -- New sessions, from their first lines (parsed here for the header; ingest_check and
    -- the INSERT below refuse the batch if such a line is not a session_start).
    -- Who may ship: a host belongs to one login.
    -- (The few lines wanted are found on the narrow arrays and only then taken from
    -- p_lines: walking the wide array costs more than the rest of these small steps.)
    FOR h IN
        SELECT DISTINCT ON (u.guid) u.guid, x.*
        FROM (SELECT u.guid, p_lines[u.i] AS line
              FROM unnest(guids, p_seqs) WITH ORDINALITY AS u(guid, seq, i)
              WHERE u.seq = 1
                AND NOT EXISTS (SELECT 1 FROM cfsession.sessions s WHERE s.session_guid = u.guid)
              OFFSET 0) u
        CROSS JOIN LATERAL json_to_record(u.line::json) AS x(
            host text, name text, "user" text, shell text, cwd text, session_type text,
            parent_session_id text, correlation_id text, pid bigint, actor text,
            started_at timestamptz, ts timestamptz)
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
                         WHERE s.session_guid IN (SELECT DISTINCT g FROM unnest(guids) g))
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'host % ships as login %, not as %', bad.name, bad.login, session_user
            USING ERRCODE = 'CF003';
    END IF;

    PERFORM cfsession.ingest_check(guids, p_seqs, p_hashes, p_prevs, p_types);

    -- How many lines are new (the INSERTs below must store exactly those).
    SELECT count(*) INTO kept
    FROM unnest(guids, p_seqs) AS u(guid, seq) LEFT JOIN cfsession.sessions s ON s.session_guid = u.guid
    WHERE u.seq > coalesce(s.last_seq, 0);
    IF kept = 0 THEN
        RETURN 0;  -- everything was already stored
    END IF;

    -- The month partitions of the new commands, from the starts sent with them. Each
    -- start is checked as its line is stored, so no month is made for a line that is not
    -- stored (a refused batch takes the partitions made for it back with it). A UTC start
    -- in ISO form ("…Z", what the recorder writes) names its month in its first 7
    -- characters, so one of each is read as a time; any other start is read itself.
    FOR mon IN
        SELECT DISTINCT date_trunc('month', r.started::timestamptz) AS month
        FROM (SELECT CASE WHEN u.started LIKE '____-__-__T%Z' THEN left(u.started, 7) ELSE u.started END AS key,
                     min(u.started) AS started
              FROM unnest(guids, p_seqs, p_types, p_started) AS u(guid, seq, type, started)
              JOIN cfsession.sessions s ON s.session_guid = u.guid
              WHERE u.type = 'terminal_capture' AND u.seq > s.last_seq
              GROUP BY 1) r
    LOOP
        PERFORM cfsession.ensure_partition(mon.month);
    END LOOP;

    -- The one parse of each line, in the INSERT that stores it: the row is stored only if
    -- the line hashes to its hash and says what the checks above were told.
    WITH ins AS (
        INSERT INTO cfsession.commands (session_guid, seq, host_id, command_seq, started_at,
            ended_at, duration_ms, exit_code, status_kind, cwd, command, output, line, hash)
        SELECT u.guid, u.seq, s.host_id, x.command_seq, coalesce(x.started_at, x.ts)::timestamptz,
               x.ended_at, x.duration_ms, x.exit_code, x.status_kind, x.cwd, x.command,
               x.output, u.line,
               CASE WHEN encode(sha256(convert_to(u.line, 'UTF8')), 'hex') = u.hash
                         AND x.session_id = u.guid AND x.seq = u.seq
                         AND coalesce(x.prev_hash, '') = u.prev
                         AND x.event_type = 'terminal_capture'
                         AND coalesce(x.started_at, x.ts) = u.started
                    THEN u.hash
                    ELSE cfsession.ingest_refuse(u.guid, u.seq,
                             encode(sha256(convert_to(u.line, 'UTF8')), 'hex') = u.hash,
                             x.session_id, x.seq) END
        FROM unnest(p_lines, p_hashes, guids, p_seqs, p_prevs, p_types, p_started)
                 AS u(line, hash, guid, seq, prev, type, started)
        JOIN cfsession.sessions s ON s.session_guid = u.guid
        -- (the start as text, compared with what was sent, then cast once)
        CROSS JOIN LATERAL json_to_record(u.line::json) AS x(
            session_id uuid, seq integer, event_type text, prev_hash text,
            started_at text, ts text, ended_at timestamptz,
            command_seq integer, duration_ms double precision, exit_code integer,
            status_kind text, cwd text, command text, output text)
        WHERE u.type = 'terminal_capture' AND u.seq > s.last_seq
        RETURNING session_guid, exit_code
    ), agg AS (
        SELECT i.session_guid, count(*) AS cmds, count(*) FILTER (WHERE i.exit_code <> 0) AS failed
        FROM ins i GROUP BY i.session_guid
    ), upd AS (
        UPDATE cfsession.sessions s SET command_count = s.command_count + a.cmds,
                                        failed_count = s.failed_count + a.failed
        FROM agg a WHERE s.session_guid = a.session_guid
    )
    SELECT coalesce(sum(a.cmds), 0) INTO cmds FROM agg a;

    -- Every other line (a few per session: found on the narrow arrays, as above), and what
    -- a session_end says of its session.
    WITH ins AS (
        INSERT INTO cfsession.events (session_guid, seq, host_id, event_type, ts, line, hash)
        SELECT u.guid, u.seq, s.host_id, u.type, x.ts, u.line,
               CASE WHEN encode(sha256(convert_to(u.line, 'UTF8')), 'hex') = u.hash
                         AND x.session_id = u.guid AND x.seq = u.seq
                         AND coalesce(x.prev_hash, '') = u.prev
                         AND coalesce(x.event_type, '') = u.type
                    THEN u.hash
                    ELSE cfsession.ingest_refuse(u.guid, u.seq,
                             encode(sha256(convert_to(u.line, 'UTF8')), 'hex') = u.hash,
                             x.session_id, x.seq) END
        FROM (SELECT u.*, p_lines[u.i] AS line
              FROM unnest(p_hashes, guids, p_seqs, p_prevs, p_types) WITH ORDINALITY
                       AS u(hash, guid, seq, prev, type, i)
              WHERE u.type <> 'terminal_capture'
              OFFSET 0) u
        JOIN cfsession.sessions s ON s.session_guid = u.guid
        CROSS JOIN LATERAL json_to_record(u.line::json) AS x(
            session_id uuid, seq integer, event_type text, prev_hash text, ts timestamptz,
            ended_at timestamptz, duration_ms double precision, exit_code integer)
        WHERE u.seq > s.last_seq
        RETURNING session_guid, event_type, line
    ), ends AS (
        SELECT i.session_guid, x.ended_at, x.duration_ms, x.exit_code
        FROM ins i CROSS JOIN LATERAL json_to_record(i.line::json) AS x(
            ended_at timestamptz, duration_ms double precision, exit_code integer)
        WHERE i.event_type = 'session_end'
    ), upd AS (
        UPDATE cfsession.sessions s SET complete = s.complete OR e.ended_at IS NOT NULL,
               ended_at = coalesce(e.ended_at, s.ended_at),
               duration_ms = coalesce(e.duration_ms, s.duration_ms),
               exit_code = coalesce(e.exit_code, s.exit_code)
        FROM ends e WHERE s.session_guid = e.session_guid
    )
    SELECT count(*) INTO evs FROM ins;

    IF cmds + evs <> kept THEN  -- a line whose session has no row (cannot pass the checks)
        RAISE EXCEPTION 'ingest_lines: % new lines but % stored', kept, cmds + evs USING ERRCODE = 'CF002';
    END IF;

    -- The stored end of each chain: the last new line of each session (what it hashes to
    -- was verified as it was stored).
    UPDATE cfsession.sessions s SET last_seq = a.last_seq, last_hash = a.last_hash, shipped_at = now()
    FROM (
        SELECT DISTINCT ON (u.guid) u.guid, u.seq AS last_seq, u.hash AS last_hash
        FROM unnest(guids, p_seqs, p_hashes) AS u(guid, seq, hash)
        ORDER BY u.guid, u.seq DESC
    ) a
    WHERE s.session_guid = a.guid AND a.last_seq > s.last_seq;

    UPDATE cfsession.hosts hs SET last_seen = now()
    WHERE hs.host_id IN (SELECT s.host_id FROM cfsession.sessions s
                         WHERE s.session_guid IN (SELECT DISTINCT g FROM unnest(guids) g));
    RETURN kept;
END
$fn$;

-- New functions are executable by PUBLIC by default: only ingest_lines is the shipper's.
REVOKE ALL ON FUNCTION cfsession.ingest_check(uuid[], integer[], text[], text[], text[]),
    cfsession.ingest_refuse(uuid, integer, boolean, uuid, integer),
    cfsession.ingest_lines(text[], text[], text[], integer[], text[], text[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cfsession.ingest_lines(text[], text[], text[], integer[], text[], text[], text[])
    TO cfsession_shipper;
