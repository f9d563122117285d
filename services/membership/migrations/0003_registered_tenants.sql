-- The tenants registered before the platform kept `markaz_tenants`.
-- (`WHERE true`: SQLite reads ON CONFLICT after a bare SELECT as a join.)
INSERT INTO markaz_tenants (id, registered_at)
SELECT id, created_at FROM tenants WHERE true
ON CONFLICT (id) DO NOTHING;
