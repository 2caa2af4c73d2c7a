-- 0013: the patient index for fuzzy lookup, the identity each page shows
-- of itself, and the record of what records staff do in the exception
-- queue.
--
-- pg_trgm ships with PostgreSQL (contrib) and is trusted since 13, so a
-- database owner may create it; on an external server whose owner may
-- not, a superuser runs "CREATE EXTENSION pg_trgm" in the database once.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

ALTER TABLE patients ADD COLUMN updated_at timestamptz;
CREATE INDEX patients_family_trgm_idx
	ON patients USING gin (family_name gin_trgm_ops);
CREATE INDEX patients_given_trgm_idx
	ON patients USING gin (given_name gin_trgm_ops);
CREATE INDEX patients_dob_idx ON patients (dob);
-- Given names by nickname: the first word, as lookup compares it.
CREATE INDEX patients_given_first_idx
	ON patients ((upper(split_part(coalesce(given_name, ''), ' ', 1))));

-- What a page's own header says about whose it is, as found (found_mrn
-- and the label's barcode are already kept): the misfile check compares
-- these with the patient of the document the page is in, also after
-- records staff have moved pages around.
ALTER TABLE pages
	ADD COLUMN found_name text,
	ADD COLUMN found_dob date;

-- Filing, and the end of a document the queue emptied (merged into
-- another, its last page moved away) or records staff rejected: such a
-- document stays out of every chart and its rows stay for the audit
-- trail.
ALTER TABLE documents
	ADD COLUMN filed_at timestamptz,
	ADD COLUMN filed_by text,
	ADD COLUMN closed_at timestamptz,
	ADD COLUMN closed_by text,
	ADD COLUMN closed_reason text;
-- (documents_patient_idx, on patient_id, is made by 0012.)
CREATE INDEX documents_queue_idx ON documents (id)
	WHERE state = 'exception' AND closed_at IS NULL;

-- Every action taken in the exception queue: who, when, and the
-- documents' state before and after (ids, codes and MRNs, never text).
CREATE TABLE queue_actions (
	id          bigserial PRIMARY KEY,
	at          timestamptz NOT NULL DEFAULT now(),
	actor       text NOT NULL,
	action      text NOT NULL,
	document_id bigint NOT NULL REFERENCES documents,
	other_id    bigint,
	page_id     bigint REFERENCES pages,
	before      jsonb NOT NULL,
	after       jsonb NOT NULL
);
CREATE INDEX queue_actions_document_idx ON queue_actions (document_id);

-- A document as the queue's before/after records show it: ids, codes and
-- MRNs only.
CREATE FUNCTION cv_document_snapshot(doc bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', d.id, 'state', d.state, 'patient_id', d.patient_id,
		'mrn', d.mrn, 'doc_type', d.doc_type,
		'identity_source', d.identity_source,
		'closed', d.closed_at IS NOT NULL,
		'pages', coalesce((SELECT jsonb_agg(p.id ORDER BY p.seq)
				   FROM pages p WHERE p.document_id = d.id),
				  '[]'::jsonb),
		'open_exceptions',
		coalesce((SELECT jsonb_agg(jsonb_build_object(
				'id', e.id, 'kind', e.kind,
				'page_id', e.page_id) ORDER BY e.id)
			  FROM exceptions e
			  WHERE e.document_id = d.id AND e.state = 'open'),
			 '[]'::jsonb))
	FROM documents d WHERE d.id = doc
$$;
