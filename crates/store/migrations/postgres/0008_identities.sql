-- Compute resources, managed identities and clusters (issue #5).
-- Kept in step with the SQLite set beside this one.
--
-- Resource ids are ARM ids, compared case-insensitively through their
-- lowercased `*_lower` column. A system-assigned identity lives and dies
-- with its resource (the server deletes it, with its role assignments,
-- when the resource goes); a user-assigned identity is a resource of its
-- own, attachable to many resources through `resource_identities`.

-- Managed identities: service-principal-like directory objects with a
-- principal (object) id and a client id.
CREATE TABLE managed_identities (
    principal_id       TEXT PRIMARY KEY,
    client_id          TEXT NOT NULL UNIQUE,
    tenant_id          TEXT NOT NULL,
    -- user-assigned: its own id; system-assigned: its resource's id.
    resource_id        TEXT NOT NULL,
    resource_id_lower  TEXT NOT NULL UNIQUE,
    subscription_id    TEXT NOT NULL,
    resource_group     TEXT NOT NULL,
    resource_group_lower TEXT NOT NULL,
    name               TEXT NOT NULL,
    location           TEXT NOT NULL,
    system_assigned    BIGINT NOT NULL,
    created_at         BIGINT NOT NULL
);
CREATE INDEX managed_identities_group
    ON managed_identities (subscription_id, resource_group_lower);

-- Compute resources (web apps, function apps, container groups, VMs,
-- clusters…); `properties` holds kind-specific settings as a JSON object.
CREATE TABLE compute_resources (
    id                   TEXT NOT NULL,
    id_lower             TEXT PRIMARY KEY,
    tenant_id            TEXT NOT NULL,
    subscription_id      TEXT NOT NULL,
    resource_group       TEXT NOT NULL,
    resource_group_lower TEXT NOT NULL,
    name                 TEXT NOT NULL,
    kind                 TEXT NOT NULL,
    location             TEXT NOT NULL,
    system_identity      TEXT REFERENCES managed_identities (principal_id),
    properties           TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX compute_resources_group
    ON compute_resources (subscription_id, resource_group_lower);

-- User-assigned identities attached to resources.
CREATE TABLE resource_identities (
    resource_id_lower TEXT NOT NULL REFERENCES compute_resources (id_lower) ON DELETE CASCADE,
    identity_id       TEXT NOT NULL REFERENCES managed_identities (principal_id) ON DELETE CASCADE,
    created_at        BIGINT NOT NULL,
    PRIMARY KEY (resource_id_lower, identity_id)
);
CREATE INDEX resource_identities_identity ON resource_identities (identity_id);
