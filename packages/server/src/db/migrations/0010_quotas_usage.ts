import { type Kysely, sql } from "kysely";

/**
 * Quotas and usage. `org_quotas` holds an organization's own limits (NULL: the server's default).
 * Usage is accrued by the database itself: a sandbox's running time is owed from `accounted_until`
 * on, and the row trigger below books it into `usage_records` (split at UTC midnight) whenever that
 * column advances or the sandbox leaves RUNNING. Every transition of every code path passes the
 * trigger, and it reads the row as locked by the UPDATE, so two replicas advancing the same
 * sandbox serialize on its row and never count a second twice.
 */
const up_ = [
  `CREATE TABLE org_quotas (
    org_id uuid PRIMARY KEY REFERENCES orgs (id),
    max_sandboxes integer CHECK (max_sandboxes >= 0),
    max_vcpus integer CHECK (max_vcpus >= 0),
    max_memory_mb integer CHECK (max_memory_mb >= 0),
    max_snapshot_bytes bigint CHECK (max_snapshot_bytes >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE TABLE usage_records (
    org_id uuid NOT NULL REFERENCES orgs (id),
    day date NOT NULL,
    sandbox_seconds numeric NOT NULL DEFAULT 0,
    vcpu_seconds numeric NOT NULL DEFAULT 0,
    memory_mb_seconds numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, day)
  )`,
  "ALTER TABLE sandboxes ADD COLUMN accounted_until timestamptz",
  "UPDATE sandboxes SET accounted_until = now() WHERE state = 'RUNNING' AND ended_at IS NULL",
  `CREATE FUNCTION fluid_usage_add(p_org uuid, p_from timestamptz, p_to timestamptz, p_vcpus integer, p_memory_mb integer)
  RETURNS void LANGUAGE plpgsql AS $$
  DECLARE
    day_start timestamptz;
    day_end timestamptz;
    secs numeric;
  BEGIN
    IF p_from IS NULL OR p_to IS NULL OR p_to <= p_from THEN RETURN; END IF;
    day_start := date_trunc('day', p_from AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    WHILE day_start < p_to LOOP
      -- 24 hours, not '1 day': a day interval follows the session's time zone across DST.
      day_end := day_start + interval '24 hours';
      secs := extract(epoch FROM (least(p_to, day_end) - greatest(p_from, day_start)));
      INSERT INTO usage_records AS u (org_id, day, sandbox_seconds, vcpu_seconds, memory_mb_seconds)
        VALUES (p_org, (day_start AT TIME ZONE 'UTC')::date, secs, secs * p_vcpus, secs * p_memory_mb)
        ON CONFLICT (org_id, day) DO UPDATE SET
          sandbox_seconds = u.sandbox_seconds + excluded.sandbox_seconds,
          vcpu_seconds = u.vcpu_seconds + excluded.vcpu_seconds,
          memory_mb_seconds = u.memory_mb_seconds + excluded.memory_mb_seconds;
      day_start := day_end;
    END LOOP;
  END $$`,
  `CREATE FUNCTION fluid_sandbox_accrue() RETURNS trigger LANGUAGE plpgsql AS $$
  DECLARE
    was_running boolean := false;
    is_running boolean := NEW.state = 'RUNNING' AND NEW.ended_at IS NULL;
  BEGIN
    IF TG_OP = 'UPDATE' THEN
      was_running := OLD.state = 'RUNNING' AND OLD.ended_at IS NULL;
    END IF;
    IF was_running AND is_running THEN
      IF NEW.accounted_until IS NULL OR NEW.accounted_until <= OLD.accounted_until THEN
        NEW.accounted_until := OLD.accounted_until;
      ELSE
        PERFORM fluid_usage_add(OLD.org_id, OLD.accounted_until, NEW.accounted_until, OLD.vcpus, OLD.memory_mb);
      END IF;
    ELSIF was_running THEN
      PERFORM fluid_usage_add(OLD.org_id, OLD.accounted_until, now(), OLD.vcpus, OLD.memory_mb);
      NEW.accounted_until := greatest(OLD.accounted_until, now());
    ELSIF is_running THEN
      NEW.accounted_until := CASE WHEN TG_OP = 'INSERT' THEN coalesce(NEW.accounted_until, now()) ELSE now() END;
    END IF;
    RETURN NEW;
  END $$`,
  `CREATE TRIGGER sandboxes_accrue_usage BEFORE INSERT OR UPDATE ON sandboxes
    FOR EACH ROW EXECUTE FUNCTION fluid_sandbox_accrue()`,
];

const down_ = [
  "DROP TRIGGER IF EXISTS sandboxes_accrue_usage ON sandboxes",
  "DROP FUNCTION IF EXISTS fluid_sandbox_accrue()",
  "DROP FUNCTION IF EXISTS fluid_usage_add(uuid, timestamptz, timestamptz, integer, integer)",
  "ALTER TABLE sandboxes DROP COLUMN IF EXISTS accounted_until",
  "DROP TABLE IF EXISTS usage_records",
  "DROP TABLE IF EXISTS org_quotas",
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of up_) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const statement of down_) await sql.raw(statement).execute(db);
}
