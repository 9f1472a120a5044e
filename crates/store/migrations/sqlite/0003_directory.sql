-- The directory's sessions and groups (issue #3). Kept in step with the
-- PostgreSQL set beside this one.
--
-- Secrets are never stored: a refresh token or device code is kept as the
-- lowercase hex SHA-256 of the string the client holds (`*_hash`), so a
-- copy of the database signs nobody in.

-- Directory refresh tokens (MSAL `offline_access`). Each use rotates: the
-- used row keeps `used_at` until it expires, so presenting it again is
-- recognised as a replay and the whole family (one sign-in and every
-- token rotated from it) is deleted.
CREATE TABLE directory_sessions (
    token_hash  TEXT PRIMARY KEY,
    family_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    tenant_id   TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    -- The scopes of the sign-in, used when a refresh names none.
    scope       TEXT NOT NULL,
    -- When the family's sign-in happened; compared with
    -- users.sessions_valid_after.
    auth_time   BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX directory_sessions_family ON directory_sessions (family_id);
CREATE INDEX directory_sessions_user ON directory_sessions (user_id);
CREATE INDEX directory_sessions_expiry ON directory_sessions (expires_at);

-- Device authorization grants (RFC 8628): the code the device polls with
-- and the code the user types, both hashed.
CREATE TABLE device_codes (
    device_code_hash TEXT PRIMARY KEY,
    user_code_hash   TEXT NOT NULL UNIQUE,
    client_id        TEXT NOT NULL,
    -- NULL when requested under `organizations`/`common`.
    tenant_id        TEXT,
    scope            TEXT NOT NULL,
    -- `pending`, `approved` or `denied`.
    status           TEXT NOT NULL,
    user_id          TEXT,
    interval_secs    BIGINT NOT NULL,
    last_polled_at   BIGINT,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL
);
CREATE INDEX device_codes_expiry ON device_codes (expires_at);

CREATE TABLE directory_groups (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    mail_nickname TEXT NOT NULL,
    description   TEXT,
    created_at    BIGINT NOT NULL
);
CREATE INDEX directory_groups_tenant ON directory_groups (tenant_id);

-- Direct members of a group: users, groups and service principals, by
-- object id. Transitive membership is computed by the caller.
CREATE TABLE directory_group_members (
    group_id    TEXT NOT NULL REFERENCES directory_groups (id) ON DELETE CASCADE,
    member_id   TEXT NOT NULL,
    member_type TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX directory_group_members_member ON directory_group_members (member_id);
