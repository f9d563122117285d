-- What a tenant publishes beyond its donors: the indicators of its public
-- page, the programs whose IATI file anyone may fetch, and the codes its
-- IATI files use for its branches' governorates and its sectors.

-- Catalogue codes, comma-separated.
ALTER TABLE impact_sharing_settings ADD COLUMN public_indicator_codes TEXT NOT NULL DEFAULT '';
-- Program ids (UUIDs), comma-separated.
ALTER TABLE impact_sharing_settings ADD COLUMN published_program_ids TEXT NOT NULL DEFAULT '';
-- "branch=SY11,..." (branch slugs, admin-1 p-codes).
ALTER TABLE impact_sharing_settings ADD COLUMN branch_admin1_pcodes TEXT NOT NULL DEFAULT '';
-- "SECTOR_HEALTH=12220,..." (sector names, DAC 5 codes).
ALTER TABLE impact_sharing_settings ADD COLUMN sector_dac5_codes TEXT NOT NULL DEFAULT '';

-- The change feed's figures: for each shared indicator and quarter, a
-- digest of what a donor sees of it (the protected table, suppressed) and
-- when that last changed, so ListChanges can say which figures moved.
CREATE TABLE impact_donor_figure_versions (
    tenant_id TEXT NOT NULL,
    code TEXT NOT NULL,
    -- "2026-Q1".
    quarter TEXT NOT NULL,
    -- Hex SHA-256 of the donor's view.
    digest TEXT NOT NULL,
    changed_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, code, quarter)
);

-- What the versions were computed at: the tenant's freshness marker and
-- its settings' update, so a feed call recomputes only once they moved.
CREATE TABLE impact_donor_figure_marks (
    tenant_id TEXT NOT NULL PRIMARY KEY,
    applied_micros BIGINT NOT NULL,
    settings_micros BIGINT NOT NULL
);
