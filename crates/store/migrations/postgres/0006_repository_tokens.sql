-- Repository-scoped tokens and scope maps (issue #4, acr-auth.md §6.4).
--
-- scope_maps holds a registry's USER-DEFINED scope maps; the five system
-- scope maps (`_repositories_admin`, …) exist in every registry and are
-- defined in code, never stored. Names are unique per registry,
-- case-insensitively (name_lower); actions are a JSON array of
-- `repositories/<repo>/<action>` strings, validated by the server.
--
-- repository_tokens: one row per token. `scope_map` is the scope map's
-- name as shown; `user_scope_map` repeats it lowercased when the map is
-- user-defined (NULL for a system map), so the foreign key refuses to
-- delete a scope map a token still uses. Each password slot is an
-- argon2id hash (never the password) with its creation time and optional
-- expiry; all three are NULL when the slot is empty. Times are epoch
-- milliseconds, booleans 0/1.
-- Kept in step with the SQLite set beside this one.

CREATE TABLE scope_maps (
    registry_id TEXT NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    name_lower  TEXT NOT NULL,
    description TEXT,
    actions     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (registry_id, name_lower)
);

CREATE TABLE repository_tokens (
    registry_id          TEXT NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
    name                 TEXT NOT NULL,
    name_lower           TEXT NOT NULL,
    scope_map            TEXT NOT NULL,
    user_scope_map       TEXT,
    enabled              BIGINT NOT NULL,
    password1_hash       TEXT,
    password1_created_at BIGINT,
    password1_expiry     BIGINT,
    password2_hash       TEXT,
    password2_created_at BIGINT,
    password2_expiry     BIGINT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    PRIMARY KEY (registry_id, name_lower),
    FOREIGN KEY (registry_id, user_scope_map) REFERENCES scope_maps (registry_id, name_lower)
);
-- Which tokens use a scope map (the delete check, the "in use" message).
CREATE INDEX repository_tokens_scope_map ON repository_tokens (registry_id, user_scope_map);
