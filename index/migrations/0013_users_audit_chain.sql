-- 0013: users and roles, and the tamper-evident audit trail.
--
-- A chartvault user is a person with one role; on the command line the
-- acting user is found by the OS login (os_user). password_hash is an
-- Argon2id string in PHC format (salt and parameters inside it), set by
-- 'chartvault user passwd' for the viewer's sign-in; never a password.
CREATE TABLE users (
	id              bigserial PRIMARY KEY,
	name            text NOT NULL UNIQUE
	                CHECK (name ~ '^[a-z_][a-z0-9_.-]{0,63}$'),
	os_user         text UNIQUE CHECK (length(os_user) BETWEEN 1 AND 64),
	full_name       text CHECK (length(full_name) <= 200),
	role            text NOT NULL
	                CHECK (role IN ('clerk', 'records', 'compliance', 'admin')),
	password_hash   text,
	password_set_at timestamptz,
	failed_logins   int NOT NULL DEFAULT 0,
	last_login_at   timestamptz,
	disabled_at     timestamptz,
	created_at      timestamptz NOT NULL DEFAULT now(),
	created_by      text
);

-- The audit trail becomes a hash chain: seq numbers the rows without
-- gaps, hash = SHA-256(prev_hash || canonical bytes of the row), where
-- the canonical bytes cover every column below but id (index/audit.c has
-- the format). Rows written before this migration keep seq NULL until the
-- next append seals them, in id order, at the end of the chain.
ALTER TABLE audit_log
	ADD COLUMN seq         bigint UNIQUE,
	ADD COLUMN role        text,
	ADD COLUMN os_user     text,
	ADD COLUMN host        text,
	ADD COLUMN session     text,
	ADD COLUMN patient     text,
	ADD COLUMN document_id bigint,
	ADD COLUMN purpose     text,
	ADD COLUMN prev_hash   bytea CHECK (length(prev_hash) = 32),
	ADD COLUMN hash        bytea CHECK (length(hash) = 32);
CREATE INDEX audit_log_unsealed_idx ON audit_log (id) WHERE seq IS NULL;
CREATE INDEX audit_log_patient_idx ON audit_log (patient, seq)
	WHERE patient IS NOT NULL;
CREATE INDEX audit_log_document_idx ON audit_log (document_id, seq)
	WHERE document_id IS NOT NULL;
CREATE INDEX audit_log_actor_idx ON audit_log (actor, seq);
CREATE INDEX audit_log_at_idx ON audit_log (at);

-- Append-only: a sealed row never changes and no row is deleted. This
-- stops mistakes and casual edits; a superuser can switch the trigger
-- off, which is what the hash chain and the signed checkpoints catch.
CREATE FUNCTION audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'UPDATE' AND OLD.seq IS NULL AND NEW.seq IS NOT NULL
	   AND NEW.id = OLD.id AND NEW.at = OLD.at
	   AND NEW.actor = OLD.actor AND NEW.action = OLD.action
	   AND NEW.object_type IS NOT DISTINCT FROM OLD.object_type
	   AND NEW.object_id IS NOT DISTINCT FROM OLD.object_id
	   AND NEW.detail IS NOT DISTINCT FROM OLD.detail
	   AND NEW.outcome = OLD.outcome THEN
		RETURN NEW; -- sealing a row written before the chain existed
	END IF;
	RAISE EXCEPTION 'audit_log is append-only'
		USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_append_only
	BEFORE UPDATE OR DELETE ON audit_log
	FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate
	BEFORE TRUNCATE ON audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- Signed checkpoints: the chain's head (seq, hash) at a moment, signed
-- with the archive's Ed25519 key. Each is also appended to a file outside
-- the database (audit.checkpoint_file), which 'chartvault audit verify'
-- holds the chain against.
CREATE TABLE audit_checkpoints (
	id         bigserial PRIMARY KEY,
	seq        bigint NOT NULL,
	hash       bytea NOT NULL CHECK (length(hash) = 32),
	at         timestamptz NOT NULL,
	public_key bytea NOT NULL CHECK (length(public_key) = 32),
	signature  bytea NOT NULL CHECK (length(signature) = 64)
);
CREATE INDEX audit_checkpoints_seq_idx ON audit_checkpoints (seq);
