-- Text search of people and organizations on SQLite, from an index.
-- PostgreSQL reads its trigram indexes (0006); SQLite reads an FTS5 table
-- per resource with the `trigram` tokenizer (SQLite 3.34 and later, and
-- 3.44 for `secure-delete`; the bundled library is 3.51). A phrase of three characters or more matches
-- exactly where `search_text LIKE '%phrase%'` does: the phrase's trigrams,
-- one after the other. `case_sensitive 1` compares characters as they are,
-- as LIKE does once the normalizer has lowercased both sides (folding again
-- could join characters LIKE keeps apart; diacritics are kept for the same
-- reason). Shorter searches have no trigram and keep LIKE, as do searches
-- the index finds in very many rows (store/search.rs says why). Migration
-- 0006 still says SQLite scans: it was true then, and an applied migration
-- is not edited (its checksum would stop every database that ran it).
--
-- The tables' rowids cannot key an index: they are not declared, so VACUUM
-- (and `markaz backup`'s VACUUM INTO) may renumber them. Each FTS table is
-- keyed by `row_key` of a keys table (an INTEGER PRIMARY KEY, which keeps
-- its value), that maps it to the row's (tenant_id, id). The index is
-- external-content over a view of the keys joined to the rows, so the
-- search text is kept once, in its own row: no copy for an erasure to miss,
-- and 'rebuild' and 'integrity-check' read the rows themselves (a
-- contentless table could do neither, and a `contentless_delete` one
-- leaves a deleted row's terms in its segments, `secure-delete` or not).
-- Triggers keep the index in step with every insert, update and delete of
-- `search_text` — an erasure's, and the erasure sweep's rewrites, too.
--
-- `secure-delete`: a row's old terms are removed from the index's segments
-- when it changes, not only marked deleted until a merge, so an erased
-- person's name does not stay readable in `people_search_data`.
--
-- Tenancy: the index holds every tenant's rows; a search joins its matches
-- to the keys with `tenant_id = $1`, then to the rows, and the list's other
-- filters, order and paging apply to those rows as before.
--! sqlite
CREATE TABLE people_search_keys (
    row_key INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    UNIQUE (tenant_id, person_id)
);
CREATE VIEW people_search_source AS
    SELECT k.row_key AS row_key, p.search_text AS search_text
    FROM people_search_keys k
    JOIN people p ON p.tenant_id = k.tenant_id AND p.id = k.person_id;
CREATE VIRTUAL TABLE people_search USING fts5(
    search_text,
    content = 'people_search_source',
    content_rowid = 'row_key',
    tokenize = 'trigram case_sensitive 1'
);
INSERT INTO people_search (people_search, rank) VALUES ('secure-delete', 1);
CREATE TRIGGER people_search_insert AFTER INSERT ON people BEGIN
    INSERT INTO people_search_keys (tenant_id, person_id) VALUES (new.tenant_id, new.id);
    INSERT INTO people_search (rowid, search_text)
        SELECT row_key, new.search_text FROM people_search_keys
        WHERE tenant_id = new.tenant_id AND person_id = new.id;
END;
CREATE TRIGGER people_search_update AFTER UPDATE OF search_text ON people
WHEN old.search_text IS NOT new.search_text BEGIN
    INSERT INTO people_search (people_search, rowid, search_text)
        SELECT 'delete', row_key, old.search_text FROM people_search_keys
        WHERE tenant_id = old.tenant_id AND person_id = old.id;
    INSERT INTO people_search (rowid, search_text)
        SELECT row_key, new.search_text FROM people_search_keys
        WHERE tenant_id = new.tenant_id AND person_id = new.id;
END;
CREATE TRIGGER people_search_delete AFTER DELETE ON people BEGIN
    INSERT INTO people_search (people_search, rowid, search_text)
        SELECT 'delete', row_key, old.search_text FROM people_search_keys
        WHERE tenant_id = old.tenant_id AND person_id = old.id;
    DELETE FROM people_search_keys WHERE tenant_id = old.tenant_id AND person_id = old.id;
END;
INSERT INTO people_search_keys (tenant_id, person_id)
    SELECT tenant_id, id FROM people ORDER BY tenant_id, id;
INSERT INTO people_search (people_search) VALUES ('rebuild');

CREATE TABLE organization_search_keys (
    row_key INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    UNIQUE (tenant_id, organization_id)
);
CREATE VIEW organization_search_source AS
    SELECT k.row_key AS row_key, o.search_text AS search_text
    FROM organization_search_keys k
    JOIN organizations o ON o.tenant_id = k.tenant_id AND o.id = k.organization_id;
CREATE VIRTUAL TABLE organization_search USING fts5(
    search_text,
    content = 'organization_search_source',
    content_rowid = 'row_key',
    tokenize = 'trigram case_sensitive 1'
);
INSERT INTO organization_search (organization_search, rank) VALUES ('secure-delete', 1);
CREATE TRIGGER organization_search_insert AFTER INSERT ON organizations BEGIN
    INSERT INTO organization_search_keys (tenant_id, organization_id) VALUES (new.tenant_id, new.id);
    INSERT INTO organization_search (rowid, search_text)
        SELECT row_key, new.search_text FROM organization_search_keys
        WHERE tenant_id = new.tenant_id AND organization_id = new.id;
END;
CREATE TRIGGER organization_search_update AFTER UPDATE OF search_text ON organizations
WHEN old.search_text IS NOT new.search_text BEGIN
    INSERT INTO organization_search (organization_search, rowid, search_text)
        SELECT 'delete', row_key, old.search_text FROM organization_search_keys
        WHERE tenant_id = old.tenant_id AND organization_id = old.id;
    INSERT INTO organization_search (rowid, search_text)
        SELECT row_key, new.search_text FROM organization_search_keys
        WHERE tenant_id = new.tenant_id AND organization_id = new.id;
END;
CREATE TRIGGER organization_search_delete AFTER DELETE ON organizations BEGIN
    INSERT INTO organization_search (organization_search, rowid, search_text)
        SELECT 'delete', row_key, old.search_text FROM organization_search_keys
        WHERE tenant_id = old.tenant_id AND organization_id = old.id;
    DELETE FROM organization_search_keys
        WHERE tenant_id = old.tenant_id AND organization_id = old.id;
END;
INSERT INTO organization_search_keys (tenant_id, organization_id)
    SELECT tenant_id, id FROM organizations ORDER BY tenant_id, id;
INSERT INTO organization_search (organization_search) VALUES ('rebuild');
--! all
