-- Generated organization numbers count per tenant: one shared sequence told
-- every tenant how many organizations the others registered. Each tenant's
-- counter starts past every number the shared sequence gave out, so no
-- generated identifier can repeat one already issued. The shared sequence
-- stays for the previous release's replicas during a rolling upgrade (expand
-- only, docs/operations.md); the release after drops it.
CREATE TABLE organization_counters (
    tenant_id TEXT PRIMARY KEY,
    last_number BIGINT NOT NULL
);

--! postgres
INSERT INTO organization_counters (tenant_id, last_number)
SELECT id, (SELECT CASE WHEN is_called THEN last_value * 64 ELSE 0 END FROM organization_numbers)
FROM tenants;
--! sqlite
INSERT INTO organization_counters (tenant_id, last_number)
SELECT id, (SELECT value FROM markaz_sequences WHERE name = 'organization_numbers')
FROM tenants;
--! all
