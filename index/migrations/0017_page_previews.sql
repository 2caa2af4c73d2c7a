-- 0017: page previews made at ingest.
--
-- The viewer shows each page as a grey PNG scaled to the screen. Making
-- one on demand (decrypt, decode, scale, compress) costs about 19 ms of
-- CPU, and twenty people opening charts at once queue behind each other
-- for it; so ingest makes the widths the document view asks for (the
-- page and its thumbnail) when it makes the document's searchable PDF,
-- and stores them encrypted in the archive like every other object.
--
-- One row per page and width step (the viewer's width steps: a preview
-- keyed 1400 is exactly what the viewer would render when 1400 is asked,
-- never enlarged past the page). A preview is the page's: it follows the
-- page into whatever document it is moved to, stays with a page that a
-- QA rescan superseded (as its other objects do), and is erased with the
-- page when its record is destroyed (index/destroy.c).
CREATE TABLE IF NOT EXISTS page_previews (
	page_id    bigint NOT NULL REFERENCES pages,
	width      int NOT NULL CHECK (width BETWEEN 16 AND 10000),
	object_id  bytea NOT NULL REFERENCES objects,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (page_id, width)
);
-- Erase asks whether anything else still names an object.
CREATE INDEX IF NOT EXISTS page_previews_object_idx
	ON page_previews (object_id);
