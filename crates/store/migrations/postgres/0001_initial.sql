-- acrylic metadata schema, PostgreSQL flavour. The SQLite set beside this one
-- has the same tables and columns; keep them in step.
-- Conventions: ids and names TEXT; times BIGINT epoch milliseconds (UTC);
-- booleans BIGINT 0/1; sealed secrets BYTEA. `*_lower` columns carry the
-- case-insensitive keys. Names that are paged in lexical order use
-- COLLATE "C" so ordering is by bytes whatever the database's locale
-- (SQLite's default BINARY collation already is).

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE tenants (
    id           TEXT PRIMARY KEY,
    domain       TEXT NOT NULL,
    domain_lower TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);

CREATE TABLE subscriptions (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    display_name TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);

CREATE TABLE resource_groups (
    subscription_id TEXT NOT NULL,
    name            TEXT NOT NULL,
    name_lower      TEXT NOT NULL,
    location        TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (subscription_id, name_lower)
);

CREATE TABLE users (
    id                   TEXT PRIMARY KEY,
    tenant_id            TEXT NOT NULL,
    upn                  TEXT NOT NULL,
    upn_lower            TEXT NOT NULL UNIQUE,
    display_name         TEXT NOT NULL,
    password_hash        TEXT NOT NULL,
    enabled              BIGINT NOT NULL,
    sessions_valid_after BIGINT NOT NULL,
    created_at           BIGINT NOT NULL
);
CREATE INDEX users_tenant ON users (tenant_id);

CREATE TABLE role_assignments (
    id                 TEXT PRIMARY KEY,
    scope              TEXT NOT NULL,
    scope_lower        TEXT NOT NULL,
    role_definition_id TEXT NOT NULL,
    principal_id       TEXT NOT NULL,
    principal_type     TEXT NOT NULL,
    abac_condition     TEXT,
    created_at         BIGINT NOT NULL
);
CREATE INDEX role_assignments_principal ON role_assignments (principal_id);
CREATE INDEX role_assignments_scope ON role_assignments (scope_lower);

CREATE TABLE signing_keys (
    kid                TEXT PRIMARY KEY,
    algorithm          TEXT NOT NULL,
    purpose            TEXT NOT NULL,
    tenant_id          TEXT,
    sealed_private_key BYTEA NOT NULL,
    created_at         BIGINT NOT NULL,
    active_from        BIGINT NOT NULL,
    retired_at         BIGINT
);
CREATE INDEX signing_keys_purpose ON signing_keys (purpose);

CREATE TABLE registries (
    id                     TEXT PRIMARY KEY,
    name                   TEXT NOT NULL UNIQUE,
    tenant_id              TEXT NOT NULL,
    subscription_id        TEXT NOT NULL,
    resource_group         TEXT NOT NULL,
    location               TEXT NOT NULL,
    sku                    TEXT NOT NULL,
    login_server           TEXT NOT NULL,
    admin_enabled          BIGINT NOT NULL,
    admin_password1_sealed BYTEA NOT NULL,
    admin_password2_sealed BYTEA NOT NULL,
    anonymous_pull_enabled BIGINT NOT NULL,
    role_assignment_mode   TEXT NOT NULL,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL
);
CREATE INDEX registries_scope ON registries (subscription_id, resource_group);

CREATE TABLE repositories (
    registry_id TEXT NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
    name        TEXT COLLATE "C" NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (registry_id, name)
);

-- A blob is visible in a repository only through a row here.
CREATE TABLE repository_blobs (
    registry_id TEXT NOT NULL,
    repository  TEXT COLLATE "C" NOT NULL,
    digest      TEXT NOT NULL,
    size        BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (registry_id, repository, digest),
    FOREIGN KEY (registry_id, repository) REFERENCES repositories (registry_id, name) ON DELETE CASCADE
);
CREATE INDEX repository_blobs_digest ON repository_blobs (digest);

CREATE TABLE manifests (
    registry_id   TEXT NOT NULL,
    repository    TEXT COLLATE "C" NOT NULL,
    digest        TEXT NOT NULL,
    media_type    TEXT NOT NULL,
    size          BIGINT NOT NULL,
    artifact_type TEXT,
    subject       TEXT,
    annotations   TEXT,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (registry_id, repository, digest),
    FOREIGN KEY (registry_id, repository) REFERENCES repositories (registry_id, name) ON DELETE CASCADE
);
CREATE INDEX manifests_subject ON manifests (registry_id, repository, subject);

-- What each manifest references (layers, config, child manifests), for GC.
CREATE TABLE manifest_references (
    registry_id       TEXT NOT NULL,
    repository        TEXT COLLATE "C" NOT NULL,
    manifest_digest   TEXT NOT NULL,
    referenced_digest TEXT NOT NULL,
    PRIMARY KEY (registry_id, repository, manifest_digest, referenced_digest),
    FOREIGN KEY (registry_id, repository, manifest_digest)
        REFERENCES manifests (registry_id, repository, digest) ON DELETE CASCADE
);
CREATE INDEX manifest_references_digest ON manifest_references (referenced_digest);

CREATE TABLE tags (
    registry_id TEXT NOT NULL,
    repository  TEXT COLLATE "C" NOT NULL,
    name        TEXT COLLATE "C" NOT NULL,
    digest      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (registry_id, repository, name),
    FOREIGN KEY (registry_id, repository, digest)
        REFERENCES manifests (registry_id, repository, digest) ON DELETE CASCADE
);
CREATE INDEX tags_digest ON tags (registry_id, repository, digest);

CREATE TABLE uploads (
    id          TEXT PRIMARY KEY,
    registry_id TEXT NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
    repository  TEXT COLLATE "C" NOT NULL,
    size        BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX uploads_updated ON uploads (updated_at);

-- Outlives the registry it names: no foreign key.
CREATE TABLE audit (
    id          TEXT PRIMARY KEY,
    occurred_at BIGINT NOT NULL,
    registry_id TEXT,
    principal   TEXT NOT NULL,
    action      TEXT NOT NULL,
    repository  TEXT,
    decision    TEXT NOT NULL,
    client_addr TEXT,
    detail      TEXT
);
CREATE INDEX audit_time ON audit (occurred_at);
