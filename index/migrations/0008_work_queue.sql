-- 0008: the work queue. Pages waiting for OCR are claimed by workers
-- (threads of 'chartvault ingest', or 'chartvault worker' processes on
-- this or other hosts) with SELECT ... FOR UPDATE SKIP LOCKED, under a
-- lease that the claimer renews while it works. A claim whose lease ran
-- out, or whose server session is gone (the worker died), is taken again.
--
-- claimed_by: the claimer's identity (host:pid:nonce), which every write
-- of the page's result must match, so a worker that lost its claim (it
-- stalled past its lease) can never record the page a second time.
-- claim_pid: pg_backend_pid() of the claimer's connection.
-- attempts: claims so far; a page that has taken down its worker this
-- many times is failed with a reason instead of being retried forever.
ALTER TABLE pages
	ADD COLUMN claimed_by text,
	ADD COLUMN claim_pid int,
	ADD COLUMN lease_until timestamptz,
	ADD COLUMN attempts int NOT NULL DEFAULT 0 CHECK (attempts >= 0);

-- The queue itself: only waiting pages are in this index.
CREATE INDEX pages_queued_idx ON pages (attempts, id) WHERE state = 'queued';

-- Documents are cut from a batch's page stream in the order its files
-- were taken in (queue_seq, set at each intake of the file), and a file
-- the manifest describes carries the manifest's facts (codes and ids,
-- never prose) so that any worker can assemble it without the manifest.
CREATE SEQUENCE source_files_queue_seq;
ALTER TABLE source_files
	ADD COLUMN queue_seq bigint,
	ADD COLUMN manifest_line int,
	ADD COLUMN manifest_mrn text,
	ADD COLUMN manifest_type text,
	ADD COLUMN manifest_date date;
CREATE INDEX source_files_queued_idx ON source_files (batch_id)
	WHERE state = 'queued';

-- Set while an intake of the batch is adding files, and still set when
-- that intake was interrupted: its documents are not cut until the file
-- list is complete (a document may span files), that is until an intake
-- of the batch finishes.
ALTER TABLE batches ADD COLUMN intake_started_at timestamptz;
