-- cfsession fleet schema, version 5: a resent line must be the line the server holds.
-- ingest_lines() skipped every line at or below what the server held of its session, as
-- a resend after a crash. A second recording under an id the server already holds (a
-- cloned machine, a restored backup), or a file changed after it was shipped, was thus
-- reported shipped and dropped, and its .cast bytes past the first recording's were
-- appended to that recording's cast. ingest_check() now refuses such a line (CF002),
-- which sets the session aside on the host, as any refusal does. (ingest(), version 2's
-- protocol for older shippers, is unchanged.)

CREATE OR REPLACE FUNCTION cfsession.ingest_check(p_guids uuid[], p_seqs integer[], p_hashes text[],
                                       p_prevs text[], p_types text[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
DECLARE
    bad record;
BEGIN
    -- A line at or below what the server holds of its session is skipped as a resend
    -- (a crash between the server's commit and the shipper's checkpoint): only if it is
    -- the line stored there. Another line under that number is another recording with the
    -- same session id (a cloned machine, a restored backup) or a file changed after it
    -- was shipped: skipping it would report it shipped and keep nothing of it.
    SELECT u.guid, u.seq INTO bad
    FROM unnest(p_guids, p_seqs, p_hashes) AS u(guid, seq, hash)
    JOIN cfsession.sessions s ON s.session_guid = u.guid
    WHERE u.seq <= s.last_seq
      AND NOT EXISTS (SELECT 1 FROM cfsession.events e
                      WHERE e.session_guid = u.guid AND e.seq = u.seq AND e.hash = u.hash)
      AND NOT EXISTS (SELECT 1 FROM cfsession.commands c
                      WHERE c.session_guid = u.guid AND c.seq = u.seq AND c.hash = u.hash)
    ORDER BY u.guid, u.seq LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'session % line %: the server holds another line % of this session (another recording with the same id, or the file changed after it was shipped)',
            bad.guid, bad.seq, bad.seq USING ERRCODE = 'CF002';
    END IF;

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
