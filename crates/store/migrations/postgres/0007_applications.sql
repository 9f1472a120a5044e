-- Applications, service principals and their credentials (issue #4).
-- Kept in step with the SQLite set beside this one.
--
-- Client secrets are never stored: only their argon2id PHC hash. A
-- certificate credential keeps the public certificate (DER) and its SHA-1
-- and SHA-256 thumbprints (lowercase hex), which client assertions name in
-- `x5t` / `x5t#S256`.

-- Application registrations: one per app, in its home tenant.
CREATE TABLE applications (
    id               TEXT PRIMARY KEY,
    app_id           TEXT NOT NULL UNIQUE,
    tenant_id        TEXT NOT NULL,
    display_name     TEXT NOT NULL,
    -- `AzureADMyOrg` or `AzureADMultipleOrgs`.
    sign_in_audience TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX applications_tenant ON applications (tenant_id);

-- An application's identity in one tenant (its home tenant, or another
-- one where a multi-tenant app was provisioned). An application with
-- service principals cannot be deleted: they go first, with their role
-- assignments.
CREATE TABLE service_principals (
    id           TEXT PRIMARY KEY,
    app_id       TEXT NOT NULL REFERENCES applications (app_id),
    tenant_id    TEXT NOT NULL,
    display_name TEXT NOT NULL,
    enabled      BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE (app_id, tenant_id)
);
CREATE INDEX service_principals_tenant ON service_principals (tenant_id);

-- Client secrets (`kind` = 'password': secret_hash, hint) and
-- certificates (`kind` = 'certificate': certificate, sha1, sha256).
CREATE TABLE app_credentials (
    key_id         TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    kind           TEXT NOT NULL,
    display_name   TEXT,
    hint           TEXT,
    secret_hash    TEXT,
    certificate    BYTEA,
    sha1           TEXT,
    sha256         TEXT,
    start_at       BIGINT NOT NULL,
    end_at         BIGINT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX app_credentials_application ON app_credentials (application_id);

-- Federated identity credentials: an external issuer's tokens with this
-- subject and one of these audiences (a JSON array) sign the app in.
CREATE TABLE federated_credentials (
    id             TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    name_lower     TEXT NOT NULL,
    issuer         TEXT NOT NULL,
    subject        TEXT NOT NULL,
    audiences      TEXT NOT NULL,
    description    TEXT,
    created_at     BIGINT NOT NULL,
    UNIQUE (application_id, name_lower)
);

-- Client assertions already used (replay protection), kept until the
-- assertion expires; shared by every replica.
CREATE TABLE client_assertion_jtis (
    jti_key    TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX client_assertion_jtis_expiry ON client_assertion_jtis (expires_at);
