-- 0006: the exception queue. A document the pipeline cannot file with
-- confidence (unknown patient, low-confidence type, a page whose own
-- identifiers disagree with its document's patient) waits here, outside
-- every chart, until records staff resolve it. Each open exception is one
-- reason; a document leaves the queue when none is open.
ALTER TABLE documents
	ADD COLUMN state text NOT NULL DEFAULT 'filed'
		CHECK (state IN ('filed', 'exception')),
	ADD COLUMN type_confidence real
		CHECK (type_confidence IS NULL
		       OR (type_confidence >= 0 AND type_confidence <= 1));

-- Date of death: an anchor for retention and part of the patient index.
ALTER TABLE patients ADD COLUMN deceased_on date;

CREATE TABLE exceptions (
	id          bigserial PRIMARY KEY,
	document_id bigint NOT NULL REFERENCES documents,
	page_id     bigint REFERENCES pages,
	kind        text NOT NULL,
	-- Ids and codes (identities found, scores), never OCR prose.
	detail      jsonb NOT NULL DEFAULT '{}',
	state       text NOT NULL DEFAULT 'open'
	            CHECK (state IN ('open', 'resolved')),
	created_at  timestamptz NOT NULL DEFAULT now(),
	resolved_at timestamptz,
	resolved_by text,
	resolution  text
);
-- A re-run of the same batch raises nothing twice.
CREATE UNIQUE INDEX exceptions_open_once
	ON exceptions (document_id, coalesce(page_id, 0), kind)
	WHERE state = 'open';
CREATE INDEX exceptions_document_idx ON exceptions (document_id);
