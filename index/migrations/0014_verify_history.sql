-- 0014: the verify-history report.
--
-- 'chartvault verify history --object ID' lists every finding a run made
-- about one object; without this index that scans every finding of every
-- run. Only findings that name an object (failed, missing) are indexed.
-- The per-object "last proven intact" record itself is in objects
-- (last_checked_at/_run, last_full_at/_run, migration 0003).

CREATE INDEX IF NOT EXISTS verify_findings_object_idx
	ON verify_findings (object_id, run_id)
	WHERE object_id IS NOT NULL;
