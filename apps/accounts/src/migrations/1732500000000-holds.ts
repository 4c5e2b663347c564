import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Two-phase holds. A pending hold's amount sits in `balances.debits_pending`
 * of its debit account and `credits_pending` of its credit account, where the
 * balances CHECK (`debits_posted + debits_pending <= credits_posted`) already
 * refuses a hold beyond the available balance. The CHECKs and the trigger
 * below refuse an impossible hold even if the code above them had a bug: the
 * request columns never change, and a hold leaves `pending` once, for good.
 */
export class Holds1732500000000 implements MigrationInterface {
  name = 'Holds1732500000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE holds (
        id                 text        PRIMARY KEY,
        currency           char(3)     NOT NULL,
        debit_account_id   text        NOT NULL REFERENCES ledger_accounts (id),
        credit_account_id  text        NOT NULL REFERENCES ledger_accounts (id),
        amount             bigint      NOT NULL,
        expires_at         timestamptz NOT NULL,
        state              text        NOT NULL,
        posted_amount      bigint      NOT NULL DEFAULT 0,
        fee_amount         bigint      NOT NULL DEFAULT 0,
        void_reason        text,
        description        text        NOT NULL,
        payment_intent     text,
        created_at         timestamptz NOT NULL DEFAULT now(),
        updated_at         timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT holds_amount_in_range CHECK (amount > 0 AND amount <= 1000000000000),
        CONSTRAINT holds_state_known CHECK (state IN ('pending', 'posted', 'voided')),
        CONSTRAINT holds_posted_within_amount CHECK (posted_amount >= 0 AND posted_amount <= amount),
        CONSTRAINT holds_fee_within_posted CHECK (fee_amount >= 0 AND fee_amount <= posted_amount),
        CONSTRAINT holds_accounts_differ CHECK (debit_account_id <> credit_account_id),
        -- Posted means something was posted; pending and voided holds posted nothing.
        CONSTRAINT holds_posted_state CHECK ((state = 'posted') = (posted_amount > 0)),
        CONSTRAINT holds_voided_state CHECK ((state = 'voided') = (void_reason IS NOT NULL) AND (void_reason IS NULL OR void_reason IN ('requested', 'expired')))
      );
      -- The sweeper's question: which pending holds have expired?
      CREATE INDEX holds_pending_by_expiry ON holds (expires_at) WHERE state = 'pending';

      CREATE FUNCTION holds_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' THEN
          RAISE EXCEPTION 'holds are kept: DELETE of hold % refused', OLD.id;
        END IF;
        IF OLD.state <> 'pending' OR NEW.state = 'pending' THEN
          RAISE EXCEPTION 'hold %: % -> % refused (a hold leaves pending once)', OLD.id, OLD.state, NEW.state;
        END IF;
        IF (NEW.id, NEW.currency, NEW.debit_account_id, NEW.credit_account_id, NEW.amount, NEW.expires_at, NEW.created_at)
           IS DISTINCT FROM (OLD.id, OLD.currency, OLD.debit_account_id, OLD.credit_account_id, OLD.amount, OLD.expires_at, OLD.created_at) THEN
          RAISE EXCEPTION 'hold %: the request columns never change', OLD.id;
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER holds_transitions BEFORE UPDATE OR DELETE ON holds
        FOR EACH ROW EXECUTE FUNCTION holds_refuse_change();
    `);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE holds; DROP FUNCTION holds_refuse_change();');
  }
}
