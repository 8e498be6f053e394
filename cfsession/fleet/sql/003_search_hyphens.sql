-- cfsession fleet schema, version 3: a hyphen before digits no longer hides a word.
-- PostgreSQL's parser reads "build-2024" as the word "build" and the signed integer
-- "-2024", and "foo-1.5" as "foo", "-1", "5"; search_words() splits a query's "build-2024"
-- into "build" and "2024", so such a command was never found by its own text. The
-- document now splits on "-" as well, the same way the query does. Rows already indexed
-- get their words again (one pass over the indexed rows: run it when the fleet is quiet).
CREATE OR REPLACE FUNCTION cfsession.search_doc(command text, output text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog AS $fn$
    SELECT to_tsvector('simple'::regconfig, translate(
        coalesce(command, '') || ' ' || coalesce(output, ''),
        '/\.:,;=()[]{}<>''`|@#$%^&*+?!~_-',
        '                                '))
$fn$;
UPDATE cfsession.commands SET doc = cfsession.search_doc(command, output) WHERE indexed;
