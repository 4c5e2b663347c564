import { currencies } from '@paynet/contracts';
import { idempotency_table_sql } from '@paynet/platform';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The ledger's tables. Journal entries and postings are append-only (a
 * trigger refuses UPDATE and DELETE); a balance row per account is updated in
 * the same transaction as its postings, and CHECK constraints refuse a
 * flagged account below zero even if the code above them had a bug.
 */
export class Initial1732300000000 implements MigrationInterface {
  name = 'Initial1732300000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE ledger_accounts (
        id                              text        PRIMARY KEY,
        kind                            text        NOT NULL CHECK (kind IN ('wallet', 'merchant', 'funding', 'fees')),
        currency                        char(3)     NOT NULL,
        owner_name                      text        NOT NULL,
        normal_side                     text        NOT NULL CHECK (normal_side IN ('debit', 'credit')),
        debits_must_not_exceed_credits  boolean     NOT NULL,
        credits_must_not_exceed_debits  boolean     NOT NULL,
        token_hash                      text        UNIQUE,
        created_at                      timestamptz NOT NULL DEFAULT now(),
        CHECK (NOT (debits_must_not_exceed_credits AND credits_must_not_exceed_debits)),
        CHECK ((kind = 'wallet') = (token_hash IS NOT NULL))
      );
      CREATE UNIQUE INDEX ledger_accounts_one_platform_account ON ledger_accounts (kind, currency) WHERE kind IN ('funding', 'fees');

      CREATE TABLE balances (
        account_id      text    PRIMARY KEY REFERENCES ledger_accounts (id),
        debits_posted   bigint  NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
        credits_posted  bigint  NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
        debits_pending  bigint  NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
        credits_pending bigint  NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
        debits_limited  boolean NOT NULL,
        CHECK (NOT debits_limited OR debits_posted + debits_pending <= credits_posted)
      );

      CREATE TABLE journal_entries (
        id             text        PRIMARY KEY,
        currency       char(3)     NOT NULL,
        description    text        NOT NULL,
        payment_intent text,
        created_at     timestamptz NOT NULL DEFAULT now()
      );

      CREATE TABLE postings (
        seq            bigserial   PRIMARY KEY,
        id             text        NOT NULL UNIQUE,
        entry_id       text        NOT NULL REFERENCES journal_entries (id),
        line_index     smallint    NOT NULL,
        account_id     text        NOT NULL REFERENCES ledger_accounts (id),
        direction      text        NOT NULL CHECK (direction IN ('debit', 'credit')),
        amount         bigint      NOT NULL CHECK (amount > 0 AND amount <= 1000000000000),
        currency       char(3)     NOT NULL,
        balance_after  bigint      NOT NULL,
        created_at     timestamptz NOT NULL DEFAULT now(),
        UNIQUE (entry_id, line_index)
      );
      CREATE INDEX postings_by_account ON postings (account_id, seq DESC);

      CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME;
      END $$;
      CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries
        FOR EACH ROW EXECUTE FUNCTION refuse_change();
      CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings
        FOR EACH ROW EXECUTE FUNCTION refuse_change();
    `);
    await runner.query(idempotency_table_sql);
    for (const currency of currencies) await this.platformAccounts(runner, currency);
  }

  /** Funding (deposits come from it; may go negative) and fees, one of each per currency. */
  private async platformAccounts(runner: QueryRunner, currency: string): Promise<void> {
    const accounts = [
      { id: `acct_funding${currency}`, kind: 'funding', name: `Platform funding ${currency}`, limited: false },
      { id: `acct_fees${currency}`, kind: 'fees', name: `Platform fees ${currency}`, limited: true },
    ];
    for (const account of accounts) {
      await runner.query(
        `INSERT INTO ledger_accounts (id, kind, currency, owner_name, normal_side, debits_must_not_exceed_credits, credits_must_not_exceed_debits)
         VALUES ($1, $2, $3, $4, 'credit', $5, false)`,
        [account.id, account.kind, currency, account.name, account.limited],
      );
      await runner.query('INSERT INTO balances (account_id, debits_limited) VALUES ($1, $2)', [account.id, account.limited]);
    }
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query(`
      DROP TABLE idempotency_keys; DROP TABLE postings; DROP TABLE journal_entries;
      DROP TABLE balances; DROP TABLE ledger_accounts; DROP FUNCTION refuse_change();
    `);
  }
}
