-- 0011: each document's searchable PDF rendition, and the QA queue of
-- flagged pages with its history of rescans.

-- The document's PDF (page images with an invisible text layer), stored
-- encrypted in the archive like every other object. NULL until rendered:
-- ingest renders it when the document is made, and export renders any
-- that a crash left out. A page replaced after QA makes a new rendition;
-- the old one stays in page_replacements.
ALTER TABLE documents ADD COLUMN pdf_object bytea REFERENCES objects;
CREATE INDEX documents_pdf_object_idx ON documents (pdf_object)
	WHERE pdf_object IS NOT NULL;

-- Where a flagged page stands in QA: NULL while it waits for a clerk,
-- 'accepted' (good enough as it is), 'rescan' (the paper must be scanned
-- again) or 'replaced' (a rescan took its place). qa_by and qa_at say who
-- decided last and when; every decision is also in audit_log.
-- superseded_by names the page that replaced this one: a superseded page
-- leaves its document and search but keeps its rows and objects.
ALTER TABLE pages
	ADD COLUMN qa_state text
		CHECK (qa_state IN ('accepted', 'rescan', 'replaced')),
	ADD COLUMN qa_note text CHECK (length(qa_note) <= 500),
	ADD COLUMN qa_by text,
	ADD COLUMN qa_at timestamptz,
	ADD COLUMN superseded_by bigint REFERENCES pages;

-- The open QA queue: flagged pages nobody accepted, still current.
CREATE INDEX pages_qa_open_idx ON pages (id)
	WHERE quality_flags IS NOT NULL AND superseded_by IS NULL
	      AND (qa_state IS NULL OR qa_state = 'rescan');

-- Each rescan that replaced a page: where the old page was (document and
-- place in it), which page took its place, the rendition the document
-- had before, who did it and when.
CREATE TABLE page_replacements (
	id              bigserial PRIMARY KEY,
	old_page_id     bigint NOT NULL UNIQUE REFERENCES pages,
	new_page_id     bigint NOT NULL UNIQUE REFERENCES pages,
	document_id     bigint NOT NULL REFERENCES documents,
	seq             int NOT NULL,
	old_pdf_object  bytea REFERENCES objects,
	actor           text NOT NULL,
	note            text CHECK (length(note) <= 500),
	replaced_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX page_replacements_document_idx ON page_replacements (document_id);
