-- 0001: the foundation data model.
--
-- PostgreSQL keeps references, identities and search vectors; the prose of
-- a page lives only encrypted in the archive (text_object), so a copy of
-- the database alone does not hand out the charts.

-- Every stored object. The data key is kept here wrapped by the
-- key-encryption key named by kek_id, never beside the file; erasing an
-- object deletes wrapped_key first (crypto-erase).
CREATE TABLE objects (
	id            bytea PRIMARY KEY CHECK (length(id) = 32),
	gen           bigint NOT NULL,
	kind          text NOT NULL,
	kek_id        bytea NOT NULL,
	wrapped_key   bytea,
	size          bigint NOT NULL CHECK (size >= 0),
	stored_size   bigint NOT NULL CHECK (stored_size > 0),
	stored_sha256 bytea NOT NULL CHECK (length(stored_sha256) = 32),
	created_at    timestamptz NOT NULL DEFAULT now(),
	erased_at     timestamptz,
	CHECK (erased_at IS NOT NULL OR wrapped_key IS NOT NULL)
);

-- A scan batch: what a clerk fed in one go. Its counts are derived from
-- the rows below rather than stored, so they cannot drift.
CREATE TABLE batches (
	id          bigserial PRIMARY KEY,
	name        text NOT NULL UNIQUE,
	operator    text NOT NULL,
	source      text,
	created_at  timestamptz NOT NULL DEFAULT now(),
	finished_at timestamptz
);

-- One row per original file, keyed by its content: the same file fed
-- twice, in any batch, is "already archived".
CREATE TABLE source_files (
	id         bigserial PRIMARY KEY,
	batch_id   bigint NOT NULL REFERENCES batches,
	object_id  bytea NOT NULL UNIQUE REFERENCES objects,
	name       text NOT NULL,
	format     text NOT NULL,
	page_count int NOT NULL CHECK (page_count > 0),
	state      text NOT NULL DEFAULT 'queued'
	           CHECK (state IN ('queued', 'done')),
	created_at timestamptz NOT NULL DEFAULT now(),
	done_at    timestamptz
);
CREATE INDEX source_files_batch_idx ON source_files (batch_id);

-- Inputs refused, with the reason shown to the clerk.
CREATE TABLE rejects (
	id         bigserial PRIMARY KEY,
	batch_id   bigint NOT NULL REFERENCES batches,
	name       text NOT NULL,
	page       int,
	reason     text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rejects_batch_idx ON rejects (batch_id);

CREATE TABLE patients (
	id          bigserial PRIMARY KEY,
	mrn         text NOT NULL UNIQUE,
	family_name text,
	given_name  text,
	dob         date,
	sex         text,
	created_at  timestamptz NOT NULL DEFAULT now()
);

-- A document: pages that belong together (one note, one report). The
-- identity found on it is kept as found; patient_id is set once matched.
CREATE TABLE documents (
	id              bigserial PRIMARY KEY,
	batch_id        bigint NOT NULL REFERENCES batches,
	patient_id      bigint REFERENCES patients,
	mrn             text,
	patient_name    text,
	dob             date,
	doc_type        text NOT NULL DEFAULT 'other',
	type_source     text,
	identity_source text,
	service_date    date,
	created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX documents_batch_idx ON documents (batch_id);
CREATE INDEX documents_mrn_idx ON documents (mrn);

-- One row per scanned page, queued before OCR so that an interrupted
-- batch knows what is left. tsv is the page's search vector; its text is
-- in text_object.
CREATE TABLE pages (
	id             bigserial PRIMARY KEY,
	file_id        bigint NOT NULL REFERENCES source_files,
	page_no        int NOT NULL CHECK (page_no > 0),
	state          text NOT NULL DEFAULT 'queued'
	               CHECK (state IN ('queued', 'done', 'failed')),
	document_id    bigint REFERENCES documents,
	seq            int,
	blank          boolean NOT NULL DEFAULT false,
	width          int,
	height         int,
	dpi            int,
	ocr_confidence real,
	found_mrn      text,
	text_object    bytea REFERENCES objects,
	words_object   bytea REFERENCES objects,
	tsv            tsvector,
	error          text,
	done_at        timestamptz,
	UNIQUE (file_id, page_no)
);
CREATE INDEX pages_tsv_idx ON pages USING gin (tsv);
CREATE INDEX pages_document_idx ON pages (document_id, seq);

-- Who did what to which record. Ids and codes only, never OCR text.
CREATE TABLE audit_log (
	id          bigserial PRIMARY KEY,
	at          timestamptz NOT NULL DEFAULT now(),
	actor       text NOT NULL,
	action      text NOT NULL,
	object_type text,
	object_id   text,
	detail      text,
	outcome     text NOT NULL DEFAULT 'ok'
);
CREATE INDEX audit_log_object_idx ON audit_log (object_type, object_id);
