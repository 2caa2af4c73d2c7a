-- 0018: what OCR read off a page header, beside what ingest found.
--
-- found_mrn, found_name and found_dob say whose page it is. OCR now and
-- then misreads a letter or a digit of a header ("Nettlefoid" for
-- Nettlefold, 1983 for 1933); when the rest of the page names one patient
-- in the patient index and a field is within OCR's reach of that
-- patient's, ingest records the patient's own spelling in found_*. The
-- header as read is kept here, so that records staff can see what was
-- corrected and the identity bench can score reading and correction
-- apart. NULL on pages recorded before this migration.
ALTER TABLE pages
	ADD COLUMN IF NOT EXISTS read_mrn text,
	ADD COLUMN IF NOT EXISTS read_name text,
	ADD COLUMN IF NOT EXISTS read_dob date;
