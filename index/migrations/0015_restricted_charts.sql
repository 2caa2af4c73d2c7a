-- 0015: restricted charts, standing permissions and emergency access
-- ("break the glass").
--
-- A patient may be flagged restricted (an employee, a VIP, or a chart
-- that is sensitive by nature). Nobody opens a restricted chart without
-- either a standing permission (granted by compliance or an
-- administrator) or an emergency grant that the user takes for
-- themselves with a reason, which runs out after a few minutes and waits
-- in a review list until a compliance officer has looked at it. The
-- decision itself is made in one place, index/access.c.

ALTER TABLE patients
	ADD COLUMN restricted          text
		CHECK (restricted IN ('employee', 'vip', 'sensitive')),
	ADD COLUMN restricted_note     text,
	ADD COLUMN restricted_by       text,
	ADD COLUMN restricted_at       timestamptz;
CREATE INDEX patients_restricted_idx ON patients (id)
	WHERE restricted IS NOT NULL;

-- Standing permission: this user may open this restricted chart. A
-- revoked permission keeps its row (who granted it, who took it back).
CREATE TABLE chart_permissions (
	id          bigserial PRIMARY KEY,
	patient_id  bigint NOT NULL REFERENCES patients ON DELETE CASCADE,
	user_name   text NOT NULL,
	granted_by  text NOT NULL,
	granted_at  timestamptz NOT NULL DEFAULT now(),
	revoked_by  text,
	revoked_at  timestamptz
);
-- At most one live permission per user and chart.
CREATE UNIQUE INDEX chart_permissions_live_idx
	ON chart_permissions (patient_id, user_name) WHERE revoked_at IS NULL;

-- Emergency access: what the user said and when it runs out, and the
-- compliance review of it. The reason is the user's own words about why
-- they needed the chart (kept for the reviewer), never page text.
CREATE TABLE emergency_access (
	id           bigserial PRIMARY KEY,
	patient_id   bigint NOT NULL REFERENCES patients ON DELETE CASCADE,
	mrn          text NOT NULL,
	user_name    text NOT NULL,
	category     text NOT NULL,
	reason       text NOT NULL,
	granted_at   timestamptz NOT NULL DEFAULT now(),
	expires_at   timestamptz NOT NULL,
	audit_seq    bigint,
	reviewed_by  text,
	reviewed_at  timestamptz,
	review_note  text,
	CHECK (expires_at > granted_at)
);
CREATE INDEX emergency_access_live_idx
	ON emergency_access (user_name, patient_id, expires_at);
CREATE INDEX emergency_access_unreviewed_idx
	ON emergency_access (id) WHERE reviewed_at IS NULL;
