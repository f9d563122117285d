-- Tenants membership told this service about before `TenantRegistered`
-- existed: a tenant whose organizations or people were copied here was
-- registered.
-- (`WHERE true`: SQLite reads ON CONFLICT after a bare SELECT as a join.)
INSERT INTO markaz_tenants (id, registered_at)
SELECT DISTINCT tenant_id, 0 FROM membership_organizations WHERE true
ON CONFLICT (id) DO NOTHING;
INSERT INTO markaz_tenants (id, registered_at)
SELECT DISTINCT tenant_id, 0 FROM membership_people WHERE true
ON CONFLICT (id) DO NOTHING;
