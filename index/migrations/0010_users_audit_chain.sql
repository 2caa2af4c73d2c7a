-- 0010: users and roles, and the tamper-evident audit trail.
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

-- The append, in one round trip: under the chain lock (each statement of
-- a plpgsql function sees what committed before it, so the head read after
-- the lock is the true head), number the row, build its canonical bytes
-- and chain it. index/audit.c builds the same bytes in C to verify; the
-- two are held together by the tests. p_lookup_role: no caller context,
-- so the role is the actor's in users.
CREATE FUNCTION audit_field(v text) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN v IS NULL THEN '\x00'::bytea
	       ELSE '\x01'::bytea || int4send(octet_length(convert_to(v, 'UTF8')))
	            || convert_to(v, 'UTF8') END
$$;

CREATE FUNCTION audit_append(p_actor text, p_role text, p_lookup_role boolean,
	p_os_user text, p_host text, p_session text, p_action text,
	p_object_type text, p_object_id text, p_patient text,
	p_document_id bigint, p_purpose text, p_detail text, p_outcome text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	h_seq   bigint;
	h_hash  bytea;
	v_at    timestamptz;
	v_role  text := p_role;
	v_pat   text := p_patient;
	v_out   text := coalesce(p_outcome, 'ok');
	canon   bytea;
BEGIN
	IF v_role IS NULL AND p_lookup_role THEN
		SELECT role INTO v_role FROM users WHERE name = p_actor;
	END IF;
	IF v_pat IS NULL AND p_document_id IS NOT NULL THEN
		SELECT mrn INTO v_pat FROM documents WHERE id = p_document_id;
	END IF;
	PERFORM pg_advisory_xact_lock(7167023013830423601);
	SELECT seq, hash INTO h_seq, h_hash FROM audit_log
		WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1;
	IF NOT FOUND THEN
		h_seq := 0;
		h_hash := decode(repeat('00', 32), 'hex');
	END IF;
	v_at := clock_timestamp();
	canon := convert_to('cvaudit1', 'UTF8')
		|| audit_field((h_seq + 1)::text)
		|| audit_field(to_char(v_at AT TIME ZONE 'UTC',
		                       'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
		|| audit_field(p_actor) || audit_field(v_role)
		|| audit_field(p_os_user) || audit_field(p_host)
		|| audit_field(p_session) || audit_field(p_action)
		|| audit_field(p_object_type) || audit_field(p_object_id)
		|| audit_field(v_pat) || audit_field(p_document_id::text)
		|| audit_field(p_purpose) || audit_field(p_detail)
		|| audit_field(v_out);
	INSERT INTO audit_log (seq, at, actor, role, os_user, host, session,
		action, object_type, object_id, patient, document_id, purpose,
		detail, outcome, prev_hash, hash)
	VALUES (h_seq + 1, v_at, p_actor, v_role, p_os_user, p_host, p_session,
		p_action, p_object_type, p_object_id, v_pat, p_document_id,
		p_purpose, p_detail, v_out, h_hash, sha256(h_hash || canon));
	RETURN h_seq + 1;
END
$$;

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
