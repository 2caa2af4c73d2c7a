-- 0009: retention schedules, encounters, legal holds, two-person
-- destruction with its evidence and ghosts, and paper destruction.
--
-- Rules are data and versioned: a rule's text never changes once
-- recorded; 'retention set' adds a version. Every eligible date records
-- the rule id and version that produced it, so a certificate years later
-- can say which wording of the schedule applied.

CREATE TABLE retention_rules (
	rule_id      text NOT NULL CHECK (rule_id ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
	version      int NOT NULL CHECK (version > 0),
	-- Document type codes (LOINC or local), NULL for every type.
	doc_types    text[],
	category     text NOT NULL DEFAULT 'any'
	             CHECK (category IN ('any', 'minor', 'adult')),
	majority_age int NOT NULL DEFAULT 18 CHECK (majority_age BETWEEN 14 AND 25),
	-- NULL: the rule is retired from this version on.
	expr         text,
	schedule     text,
	description  text NOT NULL DEFAULT '',
	citation     text NOT NULL DEFAULT '',
	created_by   text NOT NULL,
	created_at   timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (rule_id, version)
);

-- Encounters: the clinical anchors of most schedules.
CREATE TABLE encounters (
	id            bigserial PRIMARY KEY,
	patient_id    bigint NOT NULL REFERENCES patients,
	started_on    date NOT NULL,
	discharged_on date CHECK (discharged_on IS NULL OR discharged_on >= started_on),
	recorded_by   text NOT NULL,
	recorded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX encounters_patient_idx ON encounters (patient_id);

-- Each document's eligible date and the rule that produced it. status:
-- 'date' (eligible_on set), 'permanent', 'waiting' (for an event such as
-- a death), 'unknown' (an anchor is missing: never eligible until it is
-- known), 'no-rule'.
CREATE TABLE retention_eligibility (
	document_id  bigint PRIMARY KEY REFERENCES documents,
	status       text NOT NULL
	             CHECK (status IN ('date', 'permanent', 'waiting', 'unknown', 'no-rule')),
	eligible_on  date,
	rule_id      text,
	rule_version int,
	reason       text NOT NULL DEFAULT '',
	evaluated_at timestamptz NOT NULL DEFAULT now(),
	CHECK ((status = 'date') = (eligible_on IS NOT NULL))
);
CREATE INDEX retention_eligibility_on_idx ON retention_eligibility (eligible_on);

-- Legal holds. A record under an active hold is never eligible. The
-- target is kept as given (document id, MRN, batch id, search query);
-- a query hold also remembers the documents it matched when placed.
CREATE TABLE legal_holds (
	id             bigserial PRIMARY KEY,
	scope          text NOT NULL CHECK (scope IN ('patient', 'document', 'batch', 'query')),
	document_id    bigint,
	mrn            text,
	batch_id       bigint,
	query          text,
	reason         text NOT NULL CHECK (reason <> ''),
	matter         text NOT NULL CHECK (matter <> ''),
	placed_by      text NOT NULL,
	placed_at      timestamptz NOT NULL DEFAULT now(),
	released_by    text,
	released_at    timestamptz,
	release_reason text,
	CHECK ((released_at IS NULL) = (released_by IS NULL)),
	CHECK (released_at IS NULL OR release_reason <> '')
);
CREATE TABLE legal_hold_documents (
	hold_id     bigint NOT NULL REFERENCES legal_holds,
	document_id bigint NOT NULL,
	PRIMARY KEY (hold_id, document_id)
);

-- A destruction batch: proposed by one person, approved by another,
-- executed (resumably), then certified.
CREATE TABLE destruction_batches (
	id           bigserial PRIMARY KEY,
	state        text NOT NULL DEFAULT 'proposed'
	             CHECK (state IN ('proposed', 'approved', 'executing', 'executed', 'cancelled')),
	cutoff       date NOT NULL,
	proposed_by  text NOT NULL,
	proposed_at  timestamptz NOT NULL DEFAULT now(),
	approved_by  text,
	approved_at  timestamptz,
	executed_by  text,
	started_at   timestamptz,
	executed_at  timestamptz,
	-- The signed certificate, canonical JSON and its Ed25519 signature.
	certificate  text,
	signature    bytea,
	CHECK (approved_by IS NULL OR approved_by <> proposed_by)
);

-- One record of a batch and where its destruction stands:
--   pending       proposed, untouched
--   unlinked      index rows deleted and the ghost written, in one
--                 transaction; its objects' keys are next (a resumed run
--                 completes this)
--   destroyed     keys destroyed, files shredded, evidence recorded
--   held          skipped at execution: under a legal hold
--   not-eligible  skipped at execution: no longer eligible
--   gone          skipped: the document no longer exists
CREATE TABLE destruction_items (
	batch_id     bigint NOT NULL REFERENCES destruction_batches,
	document_id  bigint NOT NULL,
	mrn          text,
	doc_type     text NOT NULL,
	first_date   date,
	last_date    date,
	rule_id      text NOT NULL,
	rule_version int NOT NULL,
	eligible_on  date NOT NULL,
	state        text NOT NULL DEFAULT 'pending'
	             CHECK (state IN ('pending', 'unlinked', 'destroyed', 'held',
	                              'not-eligible', 'gone')),
	reason       text,
	done_at      timestamptz,
	PRIMARY KEY (batch_id, document_id)
);
-- A record is in at most one batch that has not finished.
CREATE INDEX destruction_items_document_idx ON destruction_items (document_id);

-- The objects of each record and what became of their keys: captured
-- before the index rows go, so the evidence survives an interrupted run.
CREATE TABLE destruction_objects (
	batch_id     bigint NOT NULL,
	document_id  bigint NOT NULL,
	object_id    bytea NOT NULL CHECK (length(object_id) = 32),
	kind         text NOT NULL,
	kek_id       bytea,
	key_fpr      bytea,
	-- 'erased', 'kept' (another record references it), or NULL (not yet)
	outcome      text CHECK (outcome IN ('erased', 'kept')),
	kept_by      text,
	file_present boolean,
	erased_at    timestamptz,
	PRIMARY KEY (batch_id, document_id, object_id),
	FOREIGN KEY (batch_id, document_id) REFERENCES destruction_items
);

-- Ghosts: the minimum the law expects to outlive a destroyed record.
CREATE TABLE destroyed_records (
	document_id  bigint PRIMARY KEY,
	mrn          text,
	doc_type     text NOT NULL,
	first_date   date,
	last_date    date,
	rule_id      text NOT NULL,
	rule_version int NOT NULL,
	batch_id     bigint NOT NULL REFERENCES destruction_batches,
	destroyed_at timestamptz NOT NULL DEFAULT now()
);

-- Paper originals: QA sign-off of a scan batch starts the waiting
-- period; the destruction of its paper is certified like the images'.
CREATE TABLE batch_signoffs (
	batch_id    bigint PRIMARY KEY REFERENCES batches,
	signed_by   text NOT NULL,
	signed_at   timestamptz NOT NULL DEFAULT now(),
	note        text NOT NULL DEFAULT ''
);
CREATE TABLE paper_destructions (
	id          bigserial PRIMARY KEY,
	batch_id    bigint NOT NULL UNIQUE REFERENCES batches,
	method      text NOT NULL,
	vendor      text NOT NULL,
	witness     text NOT NULL,
	boxes       int NOT NULL,
	folders     int NOT NULL,
	sheets      bigint NOT NULL,
	recorded_by text NOT NULL,
	recorded_at timestamptz NOT NULL DEFAULT now(),
	certificate text NOT NULL,
	signature   bytea NOT NULL
);

-- Whether hold h covers document d: the documents it covered when placed,
-- and what its target matches now (a new document of a held patient).
CREATE FUNCTION hold_covers(h legal_holds, d documents) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT EXISTS (SELECT 1 FROM legal_hold_documents x
		       WHERE x.hold_id = h.id AND x.document_id = d.id)
		OR (h.scope = 'document' AND h.document_id = d.id)
		OR (h.scope = 'patient' AND h.mrn = d.mrn)
		OR (h.scope = 'batch' AND h.batch_id = d.batch_id)
		OR (h.scope = 'query' AND EXISTS (SELECT 1 FROM pages p
			WHERE p.document_id = d.id
			AND p.tsv @@ websearch_to_tsquery('english', h.query)))
$$;

-- The active hold covering a document (the lowest id), or NULL.
CREATE FUNCTION document_hold(doc bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
	SELECT min(h.id) FROM legal_holds h JOIN documents d ON d.id = doc
	WHERE h.released_at IS NULL AND hold_covers(h, d)
$$;

-- Erase asks who else references an object; cleaned page images too.
CREATE INDEX IF NOT EXISTS pages_image_object_idx ON pages (image_object);
