import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The journal defends itself (issue 15.5), whatever code writes to it:
 * - TRUNCATE skips row triggers, so the append-only guard gets a statement
 *   trigger too;
 * - a posting's currency must be its account's: checked by the statement
 *   trigger that already looks each posting's account up (no extra probe);
 * - every entry balances to zero per currency, with at least two postings:
 *   a constraint trigger per entry, deferred to commit, since an entry's
 *   postings are written after it (in the same transaction).
 */
export class JournalDefendsItself1734600000000 implements MigrationInterface {
  name = 'JournalDefendsItself1734600000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TRIGGER journal_entries_no_truncate BEFORE TRUNCATE ON journal_entries
        FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
      CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON postings
        FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

      CREATE OR REPLACE FUNCTION postings_check_references() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
      DECLARE
        wrong record;
      BEGIN
        -- Correlated lookups, kept as one index probe per row: an anti-join could be planned as a scan of the whole table.
        SELECT p.id, p.entry_id INTO wrong FROM new_postings p
          WHERE (SELECT 1 FROM journal_entries e WHERE e.id = p.entry_id LIMIT 1) IS NULL LIMIT 1;
        IF FOUND THEN
          RAISE EXCEPTION 'posting % names journal entry %, which does not exist', wrong.id, wrong.entry_id
            USING ERRCODE = 'foreign_key_violation';
        END IF;
        SELECT p.id, p.account_id, p.currency, a.currency AS account_currency INTO wrong
          FROM new_postings p LEFT JOIN LATERAL (SELECT currency FROM ledger_accounts WHERE id = p.account_id LIMIT 1) a ON true
          WHERE a.currency IS DISTINCT FROM p.currency LIMIT 1;
        IF FOUND AND wrong.account_currency IS NULL THEN
          RAISE EXCEPTION 'posting % names account %, which does not exist', wrong.id, wrong.account_id
            USING ERRCODE = 'foreign_key_violation';
        END IF;
        IF FOUND THEN
          RAISE EXCEPTION 'posting % is in %, its account % in %', wrong.id, wrong.currency, wrong.account_id, wrong.account_currency
            USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
      END $$;

      CREATE FUNCTION journal_entry_check_balanced() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
      DECLARE
        entry record;
      BEGIN
        SELECT coalesce(sum(lines), 0) AS lines, min(currency) FILTER (WHERE net <> 0) AS unbalanced, min(net) FILTER (WHERE net <> 0) AS net
          INTO entry
          FROM (SELECT currency, count(*) AS lines, sum(CASE direction WHEN 'debit' THEN amount ELSE -amount END) AS net
                FROM postings WHERE entry_id = NEW.id GROUP BY currency) per_currency;
        IF entry.lines < 2 THEN
          RAISE EXCEPTION 'journal entry % has % posting(s), fewer than two', NEW.id, entry.lines USING ERRCODE = 'check_violation';
        END IF;
        IF entry.unbalanced IS NOT NULL THEN
          RAISE EXCEPTION 'journal entry % does not balance in % (net %)', NEW.id, entry.unbalanced, entry.net USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
      END $$;
      CREATE CONSTRAINT TRIGGER journal_entries_balanced AFTER INSERT ON journal_entries
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_entry_check_balanced();
    `);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query(`
      DROP TRIGGER journal_entries_balanced ON journal_entries;
      DROP FUNCTION journal_entry_check_balanced();
      DROP TRIGGER journal_entries_no_truncate ON journal_entries;
      DROP TRIGGER postings_no_truncate ON postings;
    `);
  }
}
