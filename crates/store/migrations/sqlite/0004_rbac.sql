-- RBAC (issue #3): custom role definitions, ARM
-- `Microsoft.Authorization/roleDefinitions` of type `CustomRole`. Built-in
-- roles live in code (acrylic-authz) and are never stored. A custom role
-- belongs to one tenant, whose role names are unique (case-insensitively,
-- as in Azure). Permission lists and assignable scopes are JSON arrays of
-- strings. Kept in step with the PostgreSQL set beside this one.

CREATE TABLE role_definitions (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL,
    role_name         TEXT NOT NULL,
    role_name_lower   TEXT NOT NULL,
    description       TEXT NOT NULL,
    actions           TEXT NOT NULL,
    not_actions       TEXT NOT NULL,
    data_actions      TEXT NOT NULL,
    not_data_actions  TEXT NOT NULL,
    assignable_scopes TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    UNIQUE (tenant_id, role_name_lower)
);

-- A role in use cannot be deleted: its assignments are looked up by role.
CREATE INDEX role_assignments_role ON role_assignments (role_definition_id);
