-- 0004: the rest of a page's cleanup record, and the cleaned image that
-- its word boxes refer to.

-- How far the scan was turned clockwise (0, 90, 180, 270) before it was
-- recognised upright; the cleanup steps taken, as ingest lists them
-- ("background-normalised,sauvola,deskew 1.30,despeckle"); the cleaned
-- page image in the archive; its image-quality flags ("too-dark,cut-off":
-- low-resolution, too-dark, too-light, cut-off, heavy-skew,
-- low-confidence, bad-cover-sheet), NULL when there are none; whether it
-- is a page of a document or a cover or separator sheet; and the barcode
-- that decided it (a cover sheet's code, or the MRN of a patient label).
ALTER TABLE pages
	ADD COLUMN rotation int NOT NULL DEFAULT 0
		CHECK (rotation IN (0, 90, 180, 270)),
	ADD COLUMN cleanup text,
	ADD COLUMN image_object bytea REFERENCES objects,
	ADD COLUMN quality_flags text,
	ADD COLUMN kind text NOT NULL DEFAULT 'page'
		CHECK (kind IN ('page', 'cover', 'separator')),
	ADD COLUMN barcode text;

-- Pages that a clerk should look at: the QA queue.
CREATE INDEX pages_flagged_idx ON pages (file_id, page_no)
	WHERE quality_flags IS NOT NULL;
