-- ACR's changeable attributes (`changeableAttributes` in `/acr/v1/…`:
-- deleteEnabled, writeEnabled, readEnabled, listEnabled) on repositories,
-- tags and manifests; 1 = enabled, ACR's default for everything new.
-- Also what `/acr/v1/<name>/_manifests` reports about an image manifest's
-- config (its media type, architecture and os), recorded at push, and a
-- manifest's last change (NULL: unchanged since `created_at`).
-- Kept in step with the SQLite set beside this one.

ALTER TABLE repositories ADD COLUMN delete_enabled BIGINT NOT NULL DEFAULT 1;
ALTER TABLE repositories ADD COLUMN write_enabled BIGINT NOT NULL DEFAULT 1;
ALTER TABLE repositories ADD COLUMN read_enabled BIGINT NOT NULL DEFAULT 1;
ALTER TABLE repositories ADD COLUMN list_enabled BIGINT NOT NULL DEFAULT 1;

ALTER TABLE tags ADD COLUMN delete_enabled BIGINT NOT NULL DEFAULT 1;
ALTER TABLE tags ADD COLUMN write_enabled BIGINT NOT NULL DEFAULT 1;
ALTER TABLE tags ADD COLUMN read_enabled BIGINT NOT NULL DEFAULT 1;
ALTER TABLE tags ADD COLUMN list_enabled BIGINT NOT NULL DEFAULT 1;

ALTER TABLE manifests ADD COLUMN delete_enabled BIGINT NOT NULL DEFAULT 1;
ALTER TABLE manifests ADD COLUMN write_enabled BIGINT NOT NULL DEFAULT 1;
ALTER TABLE manifests ADD COLUMN read_enabled BIGINT NOT NULL DEFAULT 1;
ALTER TABLE manifests ADD COLUMN list_enabled BIGINT NOT NULL DEFAULT 1;
ALTER TABLE manifests ADD COLUMN updated_at BIGINT;
ALTER TABLE manifests ADD COLUMN config_media_type TEXT;
ALTER TABLE manifests ADD COLUMN architecture TEXT;
ALTER TABLE manifests ADD COLUMN os TEXT;

-- `/acr/v1/<name>/_tags?orderby=timedesc|timeasc` pages by last update.
CREATE INDEX tags_updated ON tags (registry_id, repository, updated_at);
