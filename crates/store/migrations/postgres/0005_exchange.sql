-- The token exchange (`/oauth2/exchange`, issue #3): a registry's
-- `policies.azureADAuthenticationAsArmPolicy.status` (acr-auth.md §2.1
-- "Audience acceptance"). 1 = enabled, ACR's default: directory tokens
-- with an ARM audience are exchanged as well as ACR-audience ones; 0 =
-- only `https://containerregistry.azure.net`.
-- Kept in step with the SQLite set beside this one.

ALTER TABLE registries ADD COLUMN aad_auth_as_arm_enabled BIGINT NOT NULL DEFAULT 1;
