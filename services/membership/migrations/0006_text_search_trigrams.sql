-- Text search of people and organizations is `search_text LIKE '%words%'`
-- (the normalized text, matched anywhere in it: Arabic names are found by
-- any part, «علي» in «العلي»). Without an index every search walks the
-- tenant's rows, and a search that matches nothing walks them all.
-- SQLite still does (FTS5's trigram tokenizer would need a table of its
-- own kept in step by triggers): `markaz dev`'s centers are small.
--! postgres
-- PostgreSQL answers LIKE '%…%' from a trigram index (pg_trgm, a trusted
-- extension: the database's owner creates it, as the migrations' owner
-- role does). Searches of three characters and more read the index; the
-- plan still walks the page's order when a search matches many.
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
-- The operator class is named with its schema (the migrations run with
-- the service's own schema as the search path), wherever the extension
-- was installed.
DO $$
DECLARE trgm text;
BEGIN
    SELECT n.nspname INTO trgm FROM pg_opclass o JOIN pg_namespace n ON n.oid = o.opcnamespace
        WHERE o.opcname = 'gin_trgm_ops' LIMIT 1;
    EXECUTE format('CREATE INDEX people_search_trigrams ON people USING gin (search_text %I.gin_trgm_ops)', trgm);
    EXECUTE format('CREATE INDEX organizations_search_trigrams ON organizations USING gin (search_text %I.gin_trgm_ops)', trgm);
END $$;
--! all
