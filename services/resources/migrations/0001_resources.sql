-- Resources: the civic-knowledge library (items, their files and versions,
-- moderation history, usage per month, full-text search) and the co-working
-- space (spaces, hours, equipment, closures, bookings, services). Every
-- tenant table has a `tenant_id`; on PostgreSQL the platform adds row-level
-- security to each (the `markaz_tenant` policy).
--
-- What other tenants may read is opened by extra, named policies below
-- (PostgreSQL ORs permissive policies): published public and consortium
-- items with their files, spaces shared with the consortium with their hours
-- and closures, and a space owner's view of the bookings of its own spaces.
-- They only widen SELECT (and, for the owner, UPDATE of bookings of its
-- spaces); every insert still belongs to the transaction's own tenant. On
-- SQLite there is no second wall: the store's queries say the same.

--! postgres
-- The overlap guard's operator class for TEXT equality in a GiST index.
-- Trusted since PostgreSQL 13: a database owner may create it. In `public`
-- so every service schema (and every test schema) finds the one copy.
CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public;
--! all

-- ================================================================ library

CREATE TABLE items (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    title_ar TEXT NOT NULL,
    title_en TEXT NOT NULL,
    summary_ar TEXT NOT NULL,
    summary_en TEXT NOT NULL,
    -- One author per line, in order (each a single line of text).
    authors TEXT NOT NULL,
    language TEXT NOT NULL,
    source_kind TEXT NOT NULL,
    source_organization_id TEXT NOT NULL,
    source_name TEXT NOT NULL,
    -- 'YYYY', 'YYYY-MM' or 'YYYY-MM-DD' ('' when unknown); the year alone
    -- for the year filter and facet (0 when unknown).
    publication_date TEXT NOT NULL,
    publication_year BIGINT NOT NULL,
    licence TEXT NOT NULL,
    licence_note TEXT NOT NULL,
    visibility TEXT NOT NULL,
    external_url TEXT NOT NULL,
    state TEXT NOT NULL,
    -- 1 for a partner's contribution; the contributing organization.
    contribution BIGINT NOT NULL,
    contributor_organization_id TEXT NOT NULL,
    state_note TEXT NOT NULL,
    created_by TEXT NOT NULL,
    first_published_at BIGINT,
    published_at BIGINT,
    -- The normalized search columns (`domain::search::normalize`), one per
    -- ranked field, and all of them together for the full-text index.
    search_title TEXT NOT NULL,
    search_authors TEXT NOT NULL,
    search_topics TEXT NOT NULL,
    search_summary TEXT NOT NULL,
    search_text TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (contribution IN (0, 1))
);
CREATE INDEX items_by_state ON items (tenant_id, state, id);
CREATE INDEX items_by_contributor ON items (tenant_id, contributor_organization_id, id);
-- Published items across tenants (the public catalogue, consortium reads).
CREATE INDEX items_published ON items (state, visibility, published_at);

-- Full text. The search column holds tokens the normalizer produced; each
-- database indexes exactly those tokens, split at the spaces and nothing
-- else, so both find the same candidates:
--! postgres
-- `array_to_tsvector` takes the tokens as lexemes, verbatim: no parser and
-- no dictionary (not even `simple`'s, whose word boundaries follow the
-- server's locale). Queries are `CAST($n AS tsquery)` of quoted lexemes
-- (`domain::search::tsquery`), equally verbatim; `:*` is the prefix.
ALTER TABLE items ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (array_to_tsvector(string_to_array(search_text, ' '))) STORED;
CREATE INDEX items_search ON items USING gin (search_vector);
--! sqlite
-- FTS5 with the `ascii` tokenizer: it splits at ASCII spaces and
-- punctuation only and keeps every non-ASCII character inside its token
-- (unicode61 would split Arabic words at any mark left in them). Prefix
-- indexes of 2 and 3 characters keep type-ahead fast. The index's content
-- lives in `item_search_rows`, whose integer key is stable (items' rowid is
-- not, under VACUUM); triggers on `items` keep both in step.
CREATE TABLE item_search_rows (
    row_key INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    search_text TEXT NOT NULL,
    UNIQUE (tenant_id, item_id)
);
CREATE VIRTUAL TABLE item_search USING fts5(
    search_text,
    content = 'item_search_rows',
    content_rowid = 'row_key',
    tokenize = 'ascii',
    prefix = '2 3'
);
CREATE TRIGGER items_search_insert AFTER INSERT ON items BEGIN
    INSERT INTO item_search_rows (tenant_id, item_id, search_text)
        VALUES (new.tenant_id, new.id, new.search_text);
    INSERT INTO item_search (rowid, search_text)
        SELECT row_key, search_text FROM item_search_rows
        WHERE tenant_id = new.tenant_id AND item_id = new.id;
END;
CREATE TRIGGER items_search_update AFTER UPDATE OF search_text ON items BEGIN
    INSERT INTO item_search (item_search, rowid, search_text)
        SELECT 'delete', row_key, search_text FROM item_search_rows
        WHERE tenant_id = old.tenant_id AND item_id = old.id;
    UPDATE item_search_rows SET search_text = new.search_text
        WHERE tenant_id = old.tenant_id AND item_id = old.id;
    INSERT INTO item_search (rowid, search_text)
        SELECT row_key, search_text FROM item_search_rows
        WHERE tenant_id = new.tenant_id AND item_id = new.id;
END;
CREATE TRIGGER items_search_delete AFTER DELETE ON items BEGIN
    INSERT INTO item_search (item_search, rowid, search_text)
        SELECT 'delete', row_key, search_text FROM item_search_rows
        WHERE tenant_id = old.tenant_id AND item_id = old.id;
    DELETE FROM item_search_rows WHERE tenant_id = old.tenant_id AND item_id = old.id;
END;
--! all

-- Topic codes of an item, for the topic filter and facet.
CREATE TABLE item_topics (
    tenant_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    topic_code TEXT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, item_id, topic_code)
);
CREATE INDEX item_topics_by_topic ON item_topics (tenant_id, topic_code, item_id);

-- Every move of an item's life cycle and moderation, never overwritten.
CREATE TABLE item_history (
    seq {{seq}},
    tenant_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    actor TEXT NOT NULL,
    by_contributor BIGINT NOT NULL,
    note TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX item_history_by_item ON item_history (tenant_id, item_id, seq);

CREATE TABLE item_files (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    label_ar TEXT NOT NULL,
    label_en TEXT NOT NULL,
    language TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX item_files_by_item ON item_files (tenant_id, item_id, id);

-- One row per upload. The bytes are in object storage under `object_key`
-- (ids only); a withdrawn version's bytes are deleted, its row and
-- checksum stay.
CREATE TABLE file_versions (
    tenant_id TEXT NOT NULL,
    file_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    item_id TEXT NOT NULL,
    file_name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    object_key TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at BIGINT NOT NULL,
    withdrawn BIGINT NOT NULL DEFAULT 0,
    withdraw_reason TEXT NOT NULL DEFAULT '',
    withdrawn_at BIGINT,
    PRIMARY KEY (tenant_id, file_id, version),
    CHECK (size_bytes > 0 AND withdrawn IN (0, 1))
);

-- Views and downloads per item and month (UTC, 'YYYY-MM'), never who. The
-- row belongs to the reading tenant (the item's own tenant for the public),
-- so a consortium read counts without writing into another tenant's rows;
-- `item_tenant_id` lets the item's owner add them up.
CREATE TABLE item_usage (
    tenant_id TEXT NOT NULL,
    item_tenant_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    month TEXT NOT NULL,
    views BIGINT NOT NULL DEFAULT 0,
    downloads BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, item_tenant_id, item_id, month)
);
CREATE INDEX item_usage_by_item ON item_usage (item_tenant_id, item_id, month);

-- ================================================================= spaces

CREATE TABLE spaces (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name_ar TEXT NOT NULL,
    name_en TEXT NOT NULL,
    description_ar TEXT NOT NULL,
    description_en TEXT NOT NULL,
    capacity BIGINT NOT NULL,
    utc_offset_minutes BIGINT NOT NULL,
    bookable_by TEXT NOT NULL,
    -- 1: other tenants of the consortium see and book it.
    shared BIGINT NOT NULL,
    max_booking_minutes BIGINT NOT NULL,
    max_days_ahead BIGINT NOT NULL,
    archived BIGINT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    -- Space ids are UUIDs, unique across tenants: bookings and the overlap
    -- guard name a space by its id alone.
    UNIQUE (id),
    CHECK (capacity > 0 AND shared IN (0, 1) AND archived IN (0, 1))
);
CREATE INDEX spaces_by_branch ON spaces (tenant_id, branch_id, id);

-- Weekly opening intervals in the space's local time (minutes since
-- midnight); weekday 1 = Monday .. 7 = Sunday.
CREATE TABLE space_hours (
    tenant_id TEXT NOT NULL,
    space_id TEXT NOT NULL,
    weekday BIGINT NOT NULL,
    opens_minute BIGINT NOT NULL,
    closes_minute BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, space_id, weekday, opens_minute),
    CHECK (weekday BETWEEN 1 AND 7 AND 0 <= opens_minute AND opens_minute < closes_minute AND closes_minute <= 1440)
);

CREATE TABLE equipment (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name_ar TEXT NOT NULL,
    name_en TEXT NOT NULL,
    -- The space it is fixed in; '' for portable equipment.
    space_id TEXT NOT NULL,
    bookable BIGINT NOT NULL,
    archived BIGINT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (id)
);
CREATE INDEX equipment_by_branch ON equipment (tenant_id, branch_id, id);

-- A space ('' for every space of the branch) closed on local days
-- `first_day` to `last_day` ('YYYY-MM-DD', both included).
CREATE TABLE closures (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    space_id TEXT NOT NULL,
    first_day TEXT NOT NULL,
    last_day TEXT NOT NULL,
    reason_ar TEXT NOT NULL,
    reason_en TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (first_day <= last_day)
);
CREATE INDEX closures_by_branch ON closures (tenant_id, branch_id, last_day);

-- =============================================================== bookings

CREATE TABLE booking_series (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    space_id TEXT NOT NULL,
    frequency TEXT NOT NULL,
    interval_count BIGINT NOT NULL,
    -- Weekday numbers, comma-separated ('' when not weekly).
    weekdays TEXT NOT NULL,
    occurrence_count BIGINT NOT NULL,
    until_day TEXT NOT NULL,
    skip_closed_days BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- A booking belongs to the tenant whose staff or partner made it;
-- `space_tenant_id` is the tenant owning the space (another one for a space
-- shared with the consortium), whose staff check people in.
CREATE TABLE bookings (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    space_tenant_id TEXT NOT NULL,
    space_id TEXT NOT NULL,
    series_id TEXT NOT NULL,
    course_id TEXT NOT NULL,
    -- The organization using the space; '' for the center's own use.
    organization_id TEXT NOT NULL,
    purpose TEXT NOT NULL,
    purpose_note TEXT NOT NULL,
    expected_attendance BIGINT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    notes TEXT NOT NULL,
    status TEXT NOT NULL,
    actual_attendance BIGINT NOT NULL DEFAULT 0,
    cancel_reason TEXT NOT NULL DEFAULT '',
    booked_by TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (id),
    CHECK (ends_at > starts_at)
);
CREATE INDEX bookings_by_space ON bookings (space_id, starts_at);
CREATE INDEX bookings_by_organization ON bookings (tenant_id, organization_id, starts_at);
CREATE INDEX bookings_by_owner ON bookings (space_tenant_id, starts_at);

-- The overlap guard: one row per space or piece of equipment a live
-- booking holds (a cancelled booking's rows are deleted with the
-- cancellation, in its transaction). The database refuses a row that
-- overlaps another of the same resource — this is the guard, not a check
-- made before inserting: under row-level security a transaction cannot see
-- another tenant's bookings of a shared space, and a check-then-insert races.
--
-- Deliberately without `tenant_id` (so without row-level security): it
-- holds nothing but times and ids — no owner, no organization, no purpose —
-- and every tenant booking a shared space must be refused by the rows of
-- every other. It is also where the availability of a space is read.
CREATE TABLE booking_slots (
    booking_id TEXT NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    resource_id TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    PRIMARY KEY (booking_id, resource_id),
    CHECK (ends_at > starts_at)
);
CREATE INDEX booking_slots_by_resource ON booking_slots (resource_id, starts_at);
--! postgres
-- Half-open ranges: a booking ending at 10:00 and one starting at 10:00 do
-- not overlap. A violation is SQLSTATE 23P01 (exclusion_violation).
ALTER TABLE booking_slots ADD CONSTRAINT booking_slots_no_overlap
    EXCLUDE USING gist (resource_id WITH =, int8range(starts_at, ends_at) WITH &&);
--! sqlite
-- SQLite has one writer at a time (writes are BEGIN IMMEDIATE), so a
-- trigger sees every committed slot: it aborts the statement, and the
-- booking's transaction with it. The message names the constraint, as
-- PostgreSQL's does.
CREATE TRIGGER booking_slots_no_overlap_insert BEFORE INSERT ON booking_slots
WHEN EXISTS (
    SELECT 1 FROM booking_slots
    WHERE resource_id = new.resource_id
      AND starts_at < new.ends_at AND new.starts_at < ends_at
)
BEGIN
    SELECT RAISE(ABORT, 'booking_slots_no_overlap');
END;
CREATE TRIGGER booking_slots_no_overlap_update BEFORE UPDATE OF resource_id, starts_at, ends_at ON booking_slots
WHEN EXISTS (
    SELECT 1 FROM booking_slots
    WHERE resource_id = new.resource_id
      AND starts_at < new.ends_at AND new.starts_at < ends_at
      AND NOT (booking_id = old.booking_id AND resource_id = old.resource_id)
)
BEGIN
    SELECT RAISE(ABORT, 'booking_slots_no_overlap');
END;
--! all

-- ========================================================= space services

CREATE TABLE space_services (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    unit TEXT NOT NULL,
    provided_on TEXT NOT NULL,
    booking_id TEXT NOT NULL,
    notes TEXT NOT NULL,
    voided BIGINT NOT NULL DEFAULT 0,
    void_reason TEXT NOT NULL DEFAULT '',
    recorded_by TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (quantity > 0 AND voided IN (0, 1))
);
CREATE INDEX space_services_by_organization ON space_services (tenant_id, organization_id, provided_on);
CREATE INDEX space_services_by_day ON space_services (tenant_id, provided_on);

-- ============================================ what other tenants may read

--! postgres
-- Published public and consortium items, with their topics, files and
-- versions: every tenant reads them (the store still filters by
-- visibility and state, and the public path by tenant).
CREATE POLICY resources_shared_items ON items FOR SELECT
    USING (state = 'ITEM_STATE_PUBLISHED'
           AND visibility IN ('VISIBILITY_PUBLIC', 'VISIBILITY_CONSORTIUM'));
CREATE POLICY resources_shared_item_topics ON item_topics FOR SELECT
    USING (EXISTS (SELECT 1 FROM items i
                   WHERE i.tenant_id = item_topics.tenant_id AND i.id = item_topics.item_id));
CREATE POLICY resources_shared_item_files ON item_files FOR SELECT
    USING (EXISTS (SELECT 1 FROM items i
                   WHERE i.tenant_id = item_files.tenant_id AND i.id = item_files.item_id));
CREATE POLICY resources_shared_file_versions ON file_versions FOR SELECT
    USING (EXISTS (SELECT 1 FROM items i
                   WHERE i.tenant_id = file_versions.tenant_id AND i.id = file_versions.item_id));
-- The owner of an item reads what other tenants' reads counted.
CREATE POLICY resources_item_usage_owner ON item_usage FOR SELECT
    USING (item_tenant_id = current_setting('markaz.tenant_id', true));
-- Spaces shared with the consortium, their hours and closures.
CREATE POLICY resources_shared_spaces ON spaces FOR SELECT USING (shared = 1);
CREATE POLICY resources_shared_space_hours ON space_hours FOR SELECT
    USING (EXISTS (SELECT 1 FROM spaces s
                   WHERE s.tenant_id = space_hours.tenant_id AND s.id = space_hours.space_id));
CREATE POLICY resources_shared_closures ON closures FOR SELECT
    USING (EXISTS (SELECT 1 FROM spaces s
                   WHERE s.tenant_id = closures.tenant_id AND s.shared = 1
                     AND (s.id = closures.space_id
                          OR (closures.space_id = '' AND s.branch_id = closures.branch_id))));
-- The owner of a space reads the bookings of it that other tenants made,
-- and checks them in or marks them as no-shows; the booking stays the
-- booking tenant's (the check keeps `space_tenant_id`).
CREATE POLICY resources_space_owner_reads ON bookings FOR SELECT
    USING (space_tenant_id = current_setting('markaz.tenant_id', true));
CREATE POLICY resources_space_owner_updates ON bookings FOR UPDATE
    USING (space_tenant_id = current_setting('markaz.tenant_id', true))
    WITH CHECK (space_tenant_id = current_setting('markaz.tenant_id', true));
--! all
