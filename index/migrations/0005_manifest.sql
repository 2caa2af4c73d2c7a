-- 0005: the batch manifest, archived as received, and where each file's
-- paper lives (box and folder, from the manifest), for reconciling a
-- back-file conversion box by box.
ALTER TABLE batches ADD COLUMN manifest_object bytea REFERENCES objects;
ALTER TABLE source_files ADD COLUMN box text, ADD COLUMN folder text;
