-- cfsession fleet schema, version 1.
-- Run by `cfsession admin migrate` as cfsession_owner (SET ROLE), inside one transaction.
-- Roles and the pg_trgm extension are created before this file runs (schema.py).

-- Hosts that ship. `login` is the database role allowed to ship for the host: the first
-- login that ships a host's session claims it; an operator may set it beforehand.
CREATE TABLE cfsession.hosts (
    host_id    integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL UNIQUE,
    login      name,
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_seen  timestamptz NOT NULL DEFAULT now()
);

-- One row per recorded session; last_seq/last_hash are the end of the chain stored so far.
CREATE TABLE cfsession.sessions (
    session_guid      uuid PRIMARY KEY,
    host_id           integer NOT NULL REFERENCES cfsession.hosts,
    name              text,
    user_name         text,
    shell             text,
    cwd               text,
    session_type      text,
    parent_session_id text,
    correlation_id    text,
    pid               bigint,
    actor             text,
    started_at        timestamptz,
    ended_at          timestamptz,
    duration_ms       double precision,
    exit_code         integer,
    command_count     integer NOT NULL DEFAULT 0,
    failed_count      integer NOT NULL DEFAULT 0,
    complete          boolean NOT NULL DEFAULT false,
    last_seq          integer NOT NULL DEFAULT 0,
    last_hash         text NOT NULL,
    cast_bytes        bigint NOT NULL DEFAULT 0,
    shipped_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_started ON cfsession.sessions (started_at DESC);
CREATE INDEX sessions_host_started ON cfsession.sessions (host_id, started_at DESC);

-- Every line that is not a command (session_start, resize, marker, warning, session_end).
-- `line` is the canonical JSON that `hash` covers (integrity.canonical), kept verbatim so
-- that `verify --remote` re-checks the chain over exactly what the server holds.
CREATE TABLE cfsession.events (
    session_guid uuid NOT NULL,
    seq          integer NOT NULL,
    host_id      integer NOT NULL,
    event_type   text NOT NULL,
    ts           timestamptz,
    line         text NOT NULL,
    hash         text NOT NULL,
    PRIMARY KEY (session_guid, seq)
);

-- Commands, partitioned by the month they started (partitions are made on first use by
-- ingest; detach/drop a month to expire it). Text search is deferred: a row arrives with
-- indexed = false, which keeps it out of the partial GIN indexes below, so ingest never
-- computes a tsvector or trigrams; index_pending() flips the flag behind ingest, and
-- searches read the (few) pending rows directly, so nothing shipped is ever unsearchable.
CREATE TABLE cfsession.commands (
    session_guid uuid NOT NULL,
    seq          integer NOT NULL,
    host_id      integer NOT NULL,
    command_seq  integer,
    started_at   timestamptz NOT NULL,
    ended_at     timestamptz,
    duration_ms  double precision,
    exit_code    integer,
    status_kind  text,
    cwd          text,
    command      text,
    output       text,
    line         text NOT NULL,
    hash         text NOT NULL,
    indexed      boolean NOT NULL DEFAULT false,
    PRIMARY KEY (session_guid, seq, started_at)
) PARTITION BY RANGE (started_at);
CREATE INDEX commands_started ON cfsession.commands (started_at DESC);
CREATE INDEX commands_pending ON cfsession.commands (started_at) WHERE NOT indexed;
-- The words of a command and its output. Punctuation becomes a space first, so that
-- `nope` finds "ls /nope" and `ENOENT` finds "ENOENT:" (PostgreSQL's parser would keep
-- "/nope" as one file-name token); search_words() does the same to a query.
CREATE FUNCTION cfsession.search_doc(command text, output text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog AS $fn$
    SELECT to_tsvector('simple'::regconfig, translate(
        coalesce(command, '') || ' ' || coalesce(output, ''),
        '/\.:,;=()[]{}<>''`|@#$%^&*+?!~_',
        '                               '))
$fn$;
CREATE FUNCTION cfsession.search_words(query text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog AS $fn$
    -- web search syntax survives: "phrases", or, a leading - (not); a - inside a word splits it
    SELECT websearch_to_tsquery('simple'::regconfig, regexp_replace(
        translate(query, '/\.:,;=()[]{}<>''`|@#$%^&*+?!~_', '                               '),
        '([[:alnum:]])-+', '\1 ', 'g'))
$fn$;
CREATE INDEX commands_fts ON cfsession.commands USING gin (cfsession.search_doc(command, output))
    WHERE indexed;
CREATE INDEX commands_trgm_command ON cfsession.commands USING gin (command gin_trgm_ops) WHERE indexed;
CREATE INDEX commands_trgm_output ON cfsession.commands USING gin (output gin_trgm_ops) WHERE indexed;

-- The asciicast stream, in the chunks the shipper sent (appended in order, never rewritten).
CREATE TABLE cfsession.cast_chunks (
    session_guid uuid NOT NULL,
    offset_bytes bigint NOT NULL,
    host_id      integer NOT NULL,
    data         bytea NOT NULL,
    PRIMARY KEY (session_guid, offset_bytes)
);

-- Which hosts each reading role may see (LIKE patterns); a role sees the hosts of every
-- scope row of a role it is a member of. No row: nothing visible.
CREATE TABLE cfsession.auditor_scope (
    role_name    name NOT NULL,
    host_pattern text NOT NULL,
    PRIMARY KEY (role_name, host_pattern)
);
INSERT INTO cfsession.auditor_scope VALUES ('cfsession_auditor', '%');

-- Month partitions on demand; an advisory lock keeps two ingests from racing on one.
CREATE FUNCTION cfsession.ensure_partition(month timestamptz) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog SET timezone = 'UTC' AS $fn$
DECLARE
    part text := format('commands_y%sm%s', to_char(month, 'YYYY'), to_char(month, 'MM'));
BEGIN
    IF to_regclass('cfsession.' || quote_ident(part)) IS NOT NULL THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('cfsession.partition'));
    EXECUTE format(
        'CREATE TABLE IF NOT EXISTS cfsession.%I PARTITION OF cfsession.commands FOR VALUES FROM (%L) TO (%L)',
        part, month, month + interval '1 month');
END
$fn$;

-- The per-connection staging tables, owned by cfsession_owner: the caller may only INSERT
-- (COPY) into pg_temp.cfs_stage. Tables the caller made itself are refused, since a
-- trigger, rule or policy on them would run with the owner's rights inside ingest().
CREATE FUNCTION cfsession.open_batch() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog SET client_min_messages = warning AS $fn$
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS cfs_stage (line text NOT NULL, hash text NOT NULL)
        ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS cfs_parsed (
        guid uuid, seq integer, event_type text, prev_hash text, hash text, line text,
        hash_ok boolean, started_at timestamptz, ts timestamptz, ended_at timestamptz,
        command_seq integer, duration_ms double precision, exit_code integer,
        status_kind text, cwd text, command text, output text, host text, name text,
        user_name text, shell text, session_type text, parent_session_id text,
        correlation_id text, pid bigint, actor text
    ) ON COMMIT DELETE ROWS;
    PERFORM cfsession.check_stage();
    EXECUTE format('GRANT INSERT ON pg_temp.cfs_stage TO %I', session_user);
END
$fn$;

CREATE FUNCTION cfsession.check_stage() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_class c
               WHERE c.oid IN (to_regclass('pg_temp.cfs_stage'), to_regclass('pg_temp.cfs_parsed'))
                 AND (c.relowner <> (SELECT r.oid FROM pg_roles r WHERE r.rolname = current_user)
                      OR c.relkind <> 'r' OR c.relhastriggers OR c.relhasrules OR c.relrowsecurity))
       OR to_regclass('pg_temp.cfs_stage') IS NULL OR to_regclass('pg_temp.cfs_parsed') IS NULL THEN
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
CREATE FUNCTION cfsession.ingest() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog SET timezone = 'UTC' SET client_min_messages = warning AS $fn$
DECLARE
    bad record;
    m record;
    stored integer;
BEGIN
    PERFORM cfsession.check_stage();
    -- One pass of the JSON parser per line (json_to_record: several times cheaper than
    -- jsonb plus ->> per field); what is stored below comes from the hashed text itself.
    INSERT INTO pg_temp.cfs_parsed
    SELECT x.session_id, x.seq, x.event_type, x.prev_hash, s.hash, s.line,
           encode(sha256(convert_to(s.line, 'UTF8')), 'hex') = s.hash,
           coalesce(x.started_at, x.ts), x.ts, x.ended_at, x.command_seq, x.duration_ms,
           x.exit_code, x.status_kind, x.cwd, x.command, x.output, x.host, x.name, x."user",
           x.shell, x.session_type, x.parent_session_id, x.correlation_id, x.pid, x.actor
    FROM pg_temp.cfs_stage s CROSS JOIN LATERAL json_to_record(s.line::json) AS x(
        session_id uuid, seq integer, event_type text, prev_hash text, started_at timestamptz,
        ts timestamptz, ended_at timestamptz, command_seq integer, duration_ms double precision,
        exit_code integer, status_kind text, cwd text, command text, output text, host text,
        name text, "user" text, shell text, session_type text, parent_session_id text,
        correlation_id text, pid bigint, actor text);

    SELECT p.guid, p.seq INTO bad FROM pg_temp.cfs_parsed p
    WHERE p.hash_ok IS NOT TRUE OR p.guid IS NULL OR p.seq IS NULL ORDER BY p.guid, p.seq LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'session % line %: its hash does not match its content (the line was changed after it was written)',
            bad.guid, bad.seq USING ERRCODE = 'CF001';
    END IF;

    -- Serialise with any other ingest of the same sessions.
    PERFORM 1 FROM cfsession.sessions s
    WHERE s.session_guid IN (SELECT DISTINCT p.guid FROM pg_temp.cfs_parsed p)
    ORDER BY s.session_guid FOR UPDATE;

    -- Resent lines (a crash between commit and the shipper's checkpoint) are skipped.
    DELETE FROM pg_temp.cfs_parsed p USING cfsession.sessions s
    WHERE s.session_guid = p.guid AND p.seq <= s.last_seq;

    -- Who may ship: a host belongs to one login.
    INSERT INTO cfsession.hosts (name, login)
    SELECT DISTINCT coalesce(p.host, ''), session_user FROM pg_temp.cfs_parsed p WHERE p.seq = 1
    ON CONFLICT (name) DO NOTHING;
    UPDATE cfsession.hosts h SET login = session_user
    WHERE h.login IS NULL AND h.name IN (SELECT coalesce(p.host, '') FROM pg_temp.cfs_parsed p WHERE p.seq = 1);
    SELECT h.name, h.login INTO bad FROM cfsession.hosts h
    WHERE h.login IS DISTINCT FROM session_user
      AND (h.name IN (SELECT coalesce(p.host, '') FROM pg_temp.cfs_parsed p WHERE p.seq = 1)
           OR h.host_id IN (SELECT s.host_id FROM cfsession.sessions s
                            WHERE s.session_guid IN (SELECT p.guid FROM pg_temp.cfs_parsed p)))
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
        FROM pg_temp.cfs_parsed p LEFT JOIN cfsession.sessions s ON s.session_guid = p.guid
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
    FROM pg_temp.cfs_parsed p JOIN cfsession.hosts h ON h.name = coalesce(p.host, '')
    WHERE p.seq = 1;

    FOR m IN SELECT DISTINCT date_trunc('month', p.started_at) AS month
             FROM pg_temp.cfs_parsed p WHERE p.event_type = 'terminal_capture' LOOP
        PERFORM cfsession.ensure_partition(m.month);
    END LOOP;

    INSERT INTO cfsession.commands (session_guid, seq, host_id, command_seq, started_at,
        ended_at, duration_ms, exit_code, status_kind, cwd, command, output, line, hash)
    SELECT p.guid, p.seq, s.host_id, p.command_seq, p.started_at, p.ended_at, p.duration_ms,
           p.exit_code, p.status_kind, p.cwd, p.command, p.output, p.line, p.hash
    FROM pg_temp.cfs_parsed p JOIN cfsession.sessions s ON s.session_guid = p.guid
    WHERE p.event_type = 'terminal_capture';

    INSERT INTO cfsession.events (session_guid, seq, host_id, event_type, ts, line, hash)
    SELECT p.guid, p.seq, s.host_id, coalesce(p.event_type, ''), p.ts, p.line, p.hash
    FROM pg_temp.cfs_parsed p JOIN cfsession.sessions s ON s.session_guid = p.guid
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
        FROM pg_temp.cfs_parsed p GROUP BY p.guid
    ) a
    WHERE s.session_guid = a.guid;

    GET DIAGNOSTICS stored = ROW_COUNT;
    SELECT count(*) INTO stored FROM pg_temp.cfs_parsed;
    UPDATE cfsession.hosts h SET last_seen = now()
    WHERE h.host_id IN (SELECT s.host_id FROM cfsession.sessions s
                        WHERE s.session_guid IN (SELECT DISTINCT p.guid FROM pg_temp.cfs_parsed p));
    RETURN stored;
END
$fn$;

-- Append a piece of a session's .cast. Idempotent: bytes already stored are skipped.
-- Returns the number of bytes the server now holds for the session.
CREATE FUNCTION cfsession.ingest_cast(p_guid uuid, p_offset bigint, p_data bytea) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
DECLARE
    s record;
BEGIN
    SELECT ss.cast_bytes, ss.host_id, h.login INTO s
    FROM cfsession.sessions ss JOIN cfsession.hosts h ON h.host_id = ss.host_id
    WHERE ss.session_guid = p_guid FOR UPDATE OF ss;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'session % is not on the server yet (ship its lines first)', p_guid
            USING ERRCODE = 'CF004';
    END IF;
    IF s.login IS DISTINCT FROM session_user THEN
        RAISE EXCEPTION 'session % belongs to a host that ships as %, not as %', p_guid, s.login, session_user
            USING ERRCODE = 'CF003';
    END IF;
    IF p_offset + length(p_data) <= s.cast_bytes THEN
        RETURN s.cast_bytes;
    END IF;
    IF p_offset > s.cast_bytes THEN
        RAISE EXCEPTION 'session %: the server holds % bytes of the cast, not %', p_guid, s.cast_bytes, p_offset
            USING ERRCODE = 'CF005';
    END IF;
    p_data := substring(p_data FROM (s.cast_bytes - p_offset + 1)::integer);
    INSERT INTO cfsession.cast_chunks (session_guid, offset_bytes, host_id, data)
    VALUES (p_guid, s.cast_bytes, s.host_id, p_data);
    UPDATE cfsession.sessions SET cast_bytes = s.cast_bytes + length(p_data) WHERE session_guid = p_guid;
    RETURN s.cast_bytes + length(p_data);
END
$fn$;

-- The deferred half of ingest: make up to `n` pending commands searchable through the
-- GIN indexes. Safe to run from many places at once (SKIP LOCKED). Returns rows indexed.
CREATE FUNCTION cfsession.index_pending(n integer DEFAULT 10000) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
DECLARE
    done integer;
BEGIN
    WITH p AS (
        SELECT c.session_guid, c.seq, c.started_at FROM cfsession.commands c
        WHERE NOT c.indexed ORDER BY c.started_at LIMIT n FOR UPDATE SKIP LOCKED
    )
    UPDATE cfsession.commands c SET indexed = true FROM p
    WHERE c.session_guid = p.session_guid AND c.seq = p.seq AND c.started_at = p.started_at;
    GET DIAGNOSTICS done = ROW_COUNT;
    RETURN done;
END
$fn$;

-- Row-level security: readers see the hosts their scope rows allow. The owner (and so the
-- SECURITY DEFINER functions above) is not subject to it.
ALTER TABLE cfsession.hosts ENABLE ROW LEVEL SECURITY;
CREATE POLICY hosts_scope ON cfsession.hosts FOR SELECT USING (
    EXISTS (SELECT 1 FROM cfsession.auditor_scope a
            WHERE pg_has_role(current_user, a.role_name, 'MEMBER') AND name LIKE a.host_pattern));
ALTER TABLE cfsession.sessions ENABLE ROW LEVEL SECURITY;
CREATE POLICY sessions_scope ON cfsession.sessions FOR SELECT
    USING (host_id IN (SELECT h.host_id FROM cfsession.hosts h));
ALTER TABLE cfsession.commands ENABLE ROW LEVEL SECURITY;
CREATE POLICY commands_scope ON cfsession.commands FOR SELECT
    USING (host_id IN (SELECT h.host_id FROM cfsession.hosts h));
ALTER TABLE cfsession.events ENABLE ROW LEVEL SECURITY;
CREATE POLICY events_scope ON cfsession.events FOR SELECT
    USING (host_id IN (SELECT h.host_id FROM cfsession.hosts h));
ALTER TABLE cfsession.cast_chunks ENABLE ROW LEVEL SECURITY;
CREATE POLICY cast_scope ON cfsession.cast_chunks FOR SELECT
    USING (host_id IN (SELECT h.host_id FROM cfsession.hosts h));

-- Privileges: shippers call the ingest functions and nothing else; readers SELECT.
REVOKE ALL ON ALL TABLES IN SCHEMA cfsession FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA cfsession FROM PUBLIC;
GRANT USAGE ON SCHEMA cfsession TO cfsession_shipper, cfsession_reader;
GRANT EXECUTE ON FUNCTION cfsession.open_batch(), cfsession.ingest(), cfsession.ingest_cast(uuid, bigint, bytea),
    cfsession.index_pending(integer) TO cfsession_shipper;
GRANT EXECUTE ON FUNCTION cfsession.search_doc(text, text), cfsession.search_words(text)
    TO cfsession_reader;
GRANT SELECT ON cfsession.hosts, cfsession.sessions, cfsession.commands, cfsession.events,
    cfsession.cast_chunks, cfsession.auditor_scope TO cfsession_reader;
