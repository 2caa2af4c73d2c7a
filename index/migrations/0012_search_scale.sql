-- 0012: search at scale, OCR-tolerant search, and charts by patient.
--
-- Ranking inside the index: when the server has the rum extension
-- (Debian: postgresql-15-rum), the pages' search vectors are indexed with
-- RUM, which keeps word positions in the index and hands out pages in
-- rank order (tsv <=> query), so a search reads its best pages instead of
-- ranking every match. RUM answers @@ as GIN does, so it replaces the GIN
-- index of 0001. A server without rum (or a role that may not create it)
-- keeps GIN; search then ranks every match, which is slower for common
-- words but gives the same results.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'rum') THEN
		BEGIN
			CREATE EXTENSION IF NOT EXISTS rum;
		EXCEPTION WHEN insufficient_privilege THEN
			RAISE NOTICE 'search keeps its GIN index: %', SQLERRM;
		END;
	END IF;
	IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'rum') THEN
		EXECUTE 'CREATE INDEX pages_tsv_rum ON pages'
			' USING rum (tsv rum_tsvector_ops)';
		EXECUTE 'DROP INDEX IF EXISTS pages_tsv_idx';
	END IF;
END $$;

-- The distinct lexemes of every page's search vector, for near-spelling
-- search (--near): a trigram index finds the lexemes that look like a
-- query's ("rnyocardi" for "myocardi"), and the pages' own index finds
-- the pages that have them. It holds what the search vectors hold, one
-- row per distinct word of the whole archive (hundreds of thousands, not
-- a row per page), never which page a word is on.
CREATE TABLE search_vocab (
	lexeme text PRIMARY KEY
);
CREATE INDEX search_vocab_trgm ON search_vocab USING gin (lexeme gin_trgm_ops);

INSERT INTO search_vocab (lexeme)
	SELECT word FROM ts_stat('SELECT tsv FROM pages WHERE tsv IS NOT NULL')
	ON CONFLICT DO NOTHING;

-- New lexemes join the vocabulary with the page that brings them. They
-- are inserted in sorted order (a tsvector's lexemes are sorted), so two
-- pages recorded at once cannot deadlock on the same new words.
CREATE FUNCTION search_vocab_add() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO search_vocab (lexeme)
		SELECT unnest(tsvector_to_array(NEW.tsv))
		ON CONFLICT DO NOTHING;
	RETURN NULL;
END $$;

CREATE TRIGGER pages_search_vocab_insert AFTER INSERT ON pages
	FOR EACH ROW WHEN (NEW.tsv IS NOT NULL)
	EXECUTE FUNCTION search_vocab_add();
CREATE TRIGGER pages_search_vocab_update AFTER UPDATE OF tsv ON pages
	FOR EACH ROW WHEN (NEW.tsv IS NOT NULL AND NEW.tsv IS DISTINCT FROM OLD.tsv)
	EXECUTE FUNCTION search_vocab_add();

-- A search with very many matches (a common word) is estimated, counted
-- by facets and ranked from the documents whose id is a multiple of 128:
-- this partial index holds their pages (under 1% of the search index),
-- so such a search reads thousands of pages, not half the archive. See
-- index/search.c.
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'rum') THEN
		EXECUTE 'CREATE INDEX pages_tsv_sample ON pages'
			' USING rum (tsv rum_tsvector_ops)'
			' WHERE document_id % 128 = 0';
	ELSE
		EXECUTE 'CREATE INDEX pages_tsv_sample ON pages USING gin (tsv)'
			' WHERE document_id % 128 = 0';
	END IF;
	-- and 1/1024 of them, for the facets of the commonest words
	EXECUTE 'CREATE INDEX pages_tsv_sparse ON pages USING gin (tsv)'
		' WHERE document_id % 1024 = 0';
END $$;

-- Searches inside one chart start from the patient's documents.
CREATE INDEX IF NOT EXISTS documents_patient_idx ON documents (patient_id);
