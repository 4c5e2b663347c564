import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Postings keep their references checked by the database, once per INSERT
 * statement instead of once per row. A foreign key runs a `SELECT ... FOR KEY
 * SHARE` of the parent row for every posting: 2 per transfer, half the time
 * of a transfer batch's write statement (docs/BENCHMARKS.md). The statement
 * trigger below checks all of a statement's postings, one index probe each.
 * It takes no lock on the parents, and needs none: journal entries are
 * append-only (a trigger refuses UPDATE and DELETE) and an account cannot be
 * deleted while its balance row references it, so a parent seen once stays.
 */
export class PostingsReferenceCheck1732600000000 implements MigrationInterface {
  name = 'PostingsReferenceCheck1732600000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      -- search_path fixed to this schema's, so the check works whoever inserts (and cannot be redirected).
      CREATE FUNCTION postings_check_references() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
      DECLARE
        orphan record;
      BEGIN
        -- Correlated lookups, kept as one index probe per row: an anti-join could be planned as a scan of the whole table.
        SELECT p.id, p.entry_id INTO orphan FROM new_postings p
          WHERE (SELECT 1 FROM journal_entries e WHERE e.id = p.entry_id LIMIT 1) IS NULL LIMIT 1;
        IF FOUND THEN
          RAISE EXCEPTION 'posting % names journal entry %, which does not exist', orphan.id, orphan.entry_id
            USING ERRCODE = 'foreign_key_violation';
        END IF;
        SELECT p.id, p.account_id INTO orphan FROM new_postings p
          WHERE (SELECT 1 FROM ledger_accounts a WHERE a.id = p.account_id LIMIT 1) IS NULL LIMIT 1;
        IF FOUND THEN
          RAISE EXCEPTION 'posting % names account %, which does not exist', orphan.id, orphan.account_id
            USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN NULL;
      END $$;
      CREATE TRIGGER postings_references AFTER INSERT ON postings
        REFERENCING NEW TABLE AS new_postings FOR EACH STATEMENT EXECUTE FUNCTION postings_check_references();
      ALTER TABLE postings DROP CONSTRAINT postings_entry_id_fkey, DROP CONSTRAINT postings_account_id_fkey;
    `);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query(`
      ALTER TABLE postings ADD CONSTRAINT postings_entry_id_fkey FOREIGN KEY (entry_id) REFERENCES journal_entries (id),
        ADD CONSTRAINT postings_account_id_fkey FOREIGN KEY (account_id) REFERENCES ledger_accounts (id);
      DROP TRIGGER postings_references ON postings;
      DROP FUNCTION postings_check_references();
    `);
  }
}
