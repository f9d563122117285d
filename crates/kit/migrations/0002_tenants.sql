-- The tenants this deployment registered, in every service's database:
-- membership writes it when the operator creates a tenant, the other
-- services when its `TenantRegistered` event arrives. A token naming any
-- other tenant is refused, however well signed.
CREATE TABLE markaz_tenants (
    id TEXT PRIMARY KEY,
    registered_at BIGINT NOT NULL
);
