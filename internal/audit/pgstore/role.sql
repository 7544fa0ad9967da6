-- A least-privilege role for `mcp-keys serve` (MCP_KEYS_DATABASE_URL).
--
-- 1. As the owner, apply the schema:   mcp-keys db migrate   (with the owner's URL)
-- 2. As the owner, in the same database and schema, run this file:
--        psql "$OWNER_URL" -f role.sql
--    then give the role a password:   \password mcp_keys_app
-- 3. Serve with MCP_KEYS_DATABASE_URL=postgres://mcp_keys_app:...@host/db
--
-- The role can append audit records and read them, never change or remove
-- one (no UPDATE, DELETE or TRUNCATE; a trigger refuses them even to the
-- owner). It cannot create tables, so a new mcp-keys version's migrations
-- must be applied by the owner (step 1) before the servers are upgraded; a
-- server started on an up-to-date schema applies nothing.

CREATE ROLE mcp_keys_app LOGIN;

-- If the tables live in another schema than public, name it here.
GRANT USAGE ON SCHEMA public TO mcp_keys_app;

-- The chain: append and read only.
GRANT SELECT, INSERT ON mcp_keys_audit TO mcp_keys_app;
-- Its head and checkpoint: one row each, moved by every append.
GRANT SELECT, UPDATE ON mcp_keys_audit_head, mcp_keys_audit_checkpoint TO mcp_keys_app;
-- Quotas: an intent is counted, then freed by a failed result.
GRANT SELECT, INSERT, UPDATE ON mcp_keys_quota_intents TO mcp_keys_app;
-- Provenance of minted keys (a later result for the same key replaces it).
GRANT SELECT, INSERT, UPDATE ON mcp_keys_minted TO mcp_keys_app;
-- Used confirmations: expired nonces are deleted.
GRANT SELECT, INSERT, DELETE ON mcp_keys_used_confirmations TO mcp_keys_app;
-- The confirmation key: made once.
GRANT SELECT, INSERT ON mcp_keys_confirmation_key TO mcp_keys_app;
-- Leases: claimed, retried and finished in place.
GRANT SELECT, INSERT, UPDATE ON mcp_keys_leases TO mcp_keys_app;
-- The schema version, read at start-up.
GRANT SELECT ON mcp_keys_schema_migrations TO mcp_keys_app;
