-- 0002: record the cleanup applied to each page, and pin the lengths of
-- the object catalogue's key material.

-- Skew measured on the scan, in degrees (positive: counter-clockwise), and
-- corrected before OCR; NULL when none was found.
ALTER TABLE pages ADD COLUMN skew_deg real;

ALTER TABLE objects
	ADD CONSTRAINT objects_kek_id_len CHECK (length(kek_id) = 8),
	ADD CONSTRAINT objects_wrapped_key_len
		CHECK (wrapped_key IS NULL OR length(wrapped_key) = 40);
