-- 0007: trained document-type classifiers, versioned. Each training run
-- adds a row; ingest uses the newest, and the shipped model when there is
-- none. The model bytes hold feature hashes and weights (see
-- ingest/ingest_int.h), never words or OCR prose; params and metrics are
-- numbers and type codes.
CREATE TABLE IF NOT EXISTS classifier_models (
	version    serial PRIMARY KEY,
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by text NOT NULL,
	params     jsonb NOT NULL DEFAULT '{}',
	metrics    jsonb NOT NULL DEFAULT '{}',
	model      bytea NOT NULL,
	sha256     bytea NOT NULL CHECK (length(sha256) = 32)
);
