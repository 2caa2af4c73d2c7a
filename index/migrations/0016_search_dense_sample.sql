-- 0016: a denser sample of the search index, 1/16 of the documents.
--
-- Searches with many matches rank and count a sample of the documents
-- (index/search.c): ranking or counting every one of 100,000 matching
-- pages costs hundreds of milliseconds. 0012's samples hold 1/128 and
-- 1/1024 of the documents; a word on 20,000-300,000 pages is now ranked
-- and counted among 1/16 of them instead, eight times as many documents
-- as before, and a filtered search (a type, a year) finds enough of its
-- documents there to estimate their counts closely. The index is 1/16
-- of the pages' search index. RUM when the server has it (ranking
-- needs its order), GIN otherwise.
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'rum') THEN
		EXECUTE 'CREATE INDEX IF NOT EXISTS pages_tsv_dense ON pages'
			' USING rum (tsv rum_tsvector_ops)'
			' WHERE document_id % 16 = 0';
	ELSE
		EXECUTE 'CREATE INDEX IF NOT EXISTS pages_tsv_dense ON pages'
			' USING gin (tsv) WHERE document_id % 16 = 0';
	END IF;
END $$;
