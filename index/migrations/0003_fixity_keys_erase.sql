-- 0003: fixity runs, key rotation and crypto-erase.
--
-- Every verify run is recorded with its counts and its findings, and each
-- object remembers when it was last proven intact, by which kind of check,
-- so a report can show the age of every object's last proof and the
-- sampling of 'verify --sample' can pick the least recently proven first.

CREATE TABLE verify_runs (
	id          bigserial PRIMARY KEY,
	started_at  timestamptz NOT NULL,
	finished_at timestamptz NOT NULL DEFAULT now(),
	actor       text NOT NULL,
	mode        text NOT NULL CHECK (mode IN ('quick', 'full')),
	sample_pct  int NOT NULL CHECK (sample_pct BETWEEN 1 AND 100),
	since       timestamptz,
	selected    bigint NOT NULL,
	intact      bigint NOT NULL,
	failed      bigint NOT NULL,
	missing     bigint NOT NULL,
	orphans     bigint NOT NULL,
	temp_files  bigint NOT NULL,
	erased      bigint NOT NULL,
	bytes       bigint NOT NULL
);

-- What a run found wrong: an object by id (failed, missing) or a file by
-- its name under objects/ (orphan, temp).
CREATE TABLE verify_findings (
	run_id    bigint NOT NULL REFERENCES verify_runs ON DELETE CASCADE,
	problem   text NOT NULL
	          CHECK (problem IN ('failed', 'missing', 'orphan', 'temp')),
	object_id bytea,
	file      text,
	reason    text
);
CREATE INDEX verify_findings_run_idx ON verify_findings (run_id);

-- last_checked_*: the last check of either mode that passed; last_full_*:
-- the last authenticated decryption that passed.
ALTER TABLE objects
	ADD COLUMN last_checked_at  timestamptz,
	ADD COLUMN last_checked_run bigint REFERENCES verify_runs,
	ADD COLUMN last_full_at     timestamptz,
	ADD COLUMN last_full_run    bigint REFERENCES verify_runs;

-- A key rotation: a new key-encryption key (KEK) and the old ones it
-- replaces. While one is open the key file holds the new KEK first and the
-- old ones after it; finished_at is set once every data key is rewrapped
-- and the old KEKs are gone from the key file.
CREATE TABLE key_rotations (
	id          bigserial PRIMARY KEY,
	actor       text NOT NULL,
	new_kek_id  bytea NOT NULL CHECK (length(new_kek_id) = 8),
	started_at  timestamptz NOT NULL DEFAULT now(),
	rewrapped   bigint NOT NULL DEFAULT 0,
	finished_at timestamptz
);

-- KEKs destroyed by a rotation. A process that loaded the key file before
-- the rotation still holds the old KEK; this trigger refuses the data keys
-- it would wrap under it, which nobody could unwrap any more.
CREATE TABLE retired_keks (
	kek_id     bytea PRIMARY KEY CHECK (length(kek_id) = 8),
	rotation   bigint NOT NULL REFERENCES key_rotations,
	retired_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION objects_refuse_retired_kek() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.wrapped_key IS NOT NULL AND EXISTS
	   (SELECT 1 FROM retired_keks WHERE kek_id = NEW.kek_id) THEN
		RAISE EXCEPTION 'key-encryption key % was retired by a key rotation',
			encode(NEW.kek_id, 'hex')
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	RETURN NEW;
END $$;

CREATE TRIGGER objects_retired_kek
	BEFORE INSERT OR UPDATE OF kek_id, wrapped_key ON objects
	FOR EACH ROW EXECUTE FUNCTION objects_refuse_retired_kek();

-- Rotation walks the rows under old KEKs; erase looks up who still
-- references an object.
CREATE INDEX objects_kek_idx ON objects (kek_id) WHERE wrapped_key IS NOT NULL;
CREATE INDEX pages_text_object_idx ON pages (text_object);
CREATE INDEX pages_words_object_idx ON pages (words_object);
