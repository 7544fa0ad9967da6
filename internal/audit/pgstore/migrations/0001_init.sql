-- mcp-keys store of record, version 1. Applied once, in one transaction,
-- under an advisory lock (see migrate.go). Every name starts with mcp_keys_
-- so that the tables can share a database or schema with others.

-- The audit chain: one row per record; line is the record's canonical JSON
-- line exactly as hashed (its "prev" is the chain value of the line before).
CREATE TABLE mcp_keys_audit (
	seq  bigint      PRIMARY KEY CHECK (seq > 0),
	at   timestamptz NOT NULL,
	line text        NOT NULL
);

-- Rows are never changed or removed, not even by the owner by accident.
CREATE FUNCTION mcp_keys_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'mcp_keys_audit is append-only: % refused', TG_OP;
END
$$;
CREATE TRIGGER mcp_keys_audit_no_change BEFORE UPDATE OR DELETE ON mcp_keys_audit
	FOR EACH ROW EXECUTE FUNCTION mcp_keys_audit_append_only();
CREATE TRIGGER mcp_keys_audit_no_truncate BEFORE TRUNCATE ON mcp_keys_audit
	FOR EACH STATEMENT EXECUTE FUNCTION mcp_keys_audit_append_only();

-- The head of the chain: one row, locked (FOR UPDATE) by every append.
CREATE TABLE mcp_keys_audit_head (
	one  boolean PRIMARY KEY DEFAULT true CHECK (one),
	seq  bigint  NOT NULL CHECK (seq >= 0),
	hash text    NOT NULL
);
INSERT INTO mcp_keys_audit_head (seq, hash) VALUES (0, '');

-- The last record verified: verification resumes after it.
CREATE TABLE mcp_keys_audit_checkpoint (
	one         boolean     PRIMARY KEY DEFAULT true CHECK (one),
	seq         bigint      NOT NULL CHECK (seq >= 0),
	hash        text        NOT NULL,
	verified_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO mcp_keys_audit_checkpoint (seq, hash) VALUES (0, '');

-- Allowed create intents, for quotas: freed when their result records a
-- definite failure. Counting reads only the last 24 hours through the index.
-- Tags and permission are kept for the provenance of a key whose result
-- leaves them out.
CREATE TABLE mcp_keys_quota_intents (
	seq        bigint      PRIMARY KEY,
	caller     text        NOT NULL,
	at         timestamptz NOT NULL,
	tags       text[]      NOT NULL,
	permission text        NOT NULL,
	freed      boolean     NOT NULL DEFAULT false
);
CREATE INDEX mcp_keys_quota_intents_at ON mcp_keys_quota_intents (at) WHERE NOT freed;

-- Provenance: keys minted through mcp-keys (a create_result with outcome
-- created), by caller.
CREATE TABLE mcp_keys_minted (
	key_id     text        PRIMARY KEY,
	caller     text        NOT NULL,
	tags       text[]      NOT NULL,
	permission text        NOT NULL,
	at         timestamptz NOT NULL,
	seq        bigint      NOT NULL
);
CREATE INDEX mcp_keys_minted_caller ON mcp_keys_minted (caller);

-- Confirmation nonces already used (their hex SHA-256), forgotten after
-- they expire.
CREATE TABLE mcp_keys_used_confirmations (
	nonce   text        PRIMARY KEY,
	expires timestamptz NOT NULL
);
CREATE INDEX mcp_keys_used_confirmations_expires ON mcp_keys_used_confirmations (expires);

-- The secret that signs confirmation request states (one row).
CREATE TABLE mcp_keys_confirmation_key (
	one boolean PRIMARY KEY DEFAULT true CHECK (one),
	key bytea   NOT NULL CHECK (length(key) = 32)
);

-- Leases: keys that mcp-keys revokes itself at ends_at. A reaper claims a
-- due lease (claimed_by, claim_until) and finishes it, or releases it to
-- be retried at retry_at.
CREATE TABLE mcp_keys_leases (
	key_id      text        PRIMARY KEY,
	caller      text        NOT NULL,
	tags        text[]      NOT NULL,
	name        text        NOT NULL,
	ends_at     timestamptz NOT NULL,
	attempts    integer     NOT NULL DEFAULT 0,
	retry_at    timestamptz,
	last_error  text        NOT NULL DEFAULT '',
	claimed_by  text,
	claim_until timestamptz,
	finished_at timestamptz,
	outcome     text        NOT NULL DEFAULT ''
);
CREATE INDEX mcp_keys_leases_due ON mcp_keys_leases (ends_at) WHERE finished_at IS NULL;
