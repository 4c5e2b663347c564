import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

export interface VerifyReport {
  ok: boolean;
  entries_checked: number;
  problems: string[];
}

/** Bounds the report, not the check: every row is checked, at most this many problems are listed. */
export const verify_problems_max = 100;

/**
 * Recomputes the ledger from its postings (API.md `GET /v1/ledger/verify`):
 * every posting belongs to an entry and an account and is in their currency, every entry balances to zero per currency, every balance row equals the sum
 * of its account's postings (and its pending columns the sum of its pending holds), no limited account is below zero, and the
 * platform as a whole is conserved per currency.
 */
@Injectable()
export class LedgerVerifyService {
  constructor(private readonly dataSource: DataSource) {}

  async verify(): Promise<VerifyReport> {
    return this.dataSource.transaction('REPEATABLE READ', async (manager) => {
      const [{ entries }] = await manager.query('SELECT count(*)::bigint AS entries FROM journal_entries');
      const checks: [string, string][] = [
        [
          `SELECT entry_id, currency, sum(CASE direction WHEN 'debit' THEN amount ELSE -amount END) AS net
           FROM postings GROUP BY entry_id, currency HAVING sum(CASE direction WHEN 'debit' THEN amount ELSE -amount END) <> 0`,
          'entry $entry_id does not balance in $currency (net $net)',
        ],
        [
          // The insert trigger refuses these; this finds any written past it (a restore, a manual fix).
          `SELECT p.id AS posting_id, p.entry_id, p.account_id FROM postings p
           WHERE NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.id = p.entry_id)
              OR NOT EXISTS (SELECT 1 FROM balances b WHERE b.account_id = p.account_id)`,
          'posting $posting_id names an entry ($entry_id) or an account ($account_id) that does not exist',
        ],
        [
          // The insert trigger refuses these too (issue 15.5); this finds any written past it.
          `SELECT p.id AS posting_id, p.currency, a.id AS account_id, a.currency AS account_currency, e.currency AS entry_currency
           FROM postings p JOIN ledger_accounts a ON a.id = p.account_id JOIN journal_entries e ON e.id = p.entry_id
           WHERE p.currency <> a.currency OR p.currency <> e.currency`,
          'posting $posting_id is in $currency, its account $account_id in $account_currency, its entry in $entry_currency',
        ],
        [
          `SELECT e.id AS entry_id FROM journal_entries e LEFT JOIN postings p ON p.entry_id = e.id
           GROUP BY e.id HAVING count(p.*) < 2`,
          'entry $entry_id has fewer than two postings',
        ],
        [
          `SELECT b.account_id, b.debits_posted, b.credits_posted, coalesce(s.debits, 0) AS debits, coalesce(s.credits, 0) AS credits
           FROM balances b LEFT JOIN (
             SELECT account_id, sum(amount) FILTER (WHERE direction = 'debit') AS debits,
                    sum(amount) FILTER (WHERE direction = 'credit') AS credits
             FROM postings GROUP BY account_id) s ON s.account_id = b.account_id
           WHERE b.debits_posted <> coalesce(s.debits, 0) OR b.credits_posted <> coalesce(s.credits, 0)`,
          'account $account_id balance ($debits_posted debits, $credits_posted credits) differs from its postings ($debits, $credits)',
        ],
        [
          `SELECT b.account_id, b.debits_pending, b.credits_pending, coalesce(d.held, 0) AS held_debits, coalesce(c.held, 0) AS held_credits
           FROM balances b
           LEFT JOIN (SELECT debit_account_id AS account_id, sum(amount) AS held FROM holds WHERE state = 'pending' GROUP BY debit_account_id) d
             ON d.account_id = b.account_id
           LEFT JOIN (SELECT credit_account_id AS account_id, sum(amount) AS held FROM holds WHERE state = 'pending' GROUP BY credit_account_id) c
             ON c.account_id = b.account_id
           WHERE b.debits_pending <> coalesce(d.held, 0) OR b.credits_pending <> coalesce(c.held, 0)`,
          'account $account_id pending ($debits_pending debits, $credits_pending credits) differs from its pending holds ($held_debits, $held_credits)',
        ],
        [
          `SELECT h.id AS hold_id, h.posted_amount, h.fee_amount, coalesce(e.amount, 0) AS entry_amount, coalesce(f.amount, 0) AS fee_entry_amount
           FROM holds h
           LEFT JOIN postings e ON e.entry_id = h.id AND e.line_index = 0
           LEFT JOIN postings f ON f.entry_id = h.id || ':fee' AND f.line_index = 0
           WHERE h.state = 'posted' AND (coalesce(e.amount, 0) <> h.posted_amount OR coalesce(f.amount, 0) <> h.fee_amount)`,
          'posted hold $hold_id ($posted_amount, fee $fee_amount) differs from its entries ($entry_amount, fee $fee_entry_amount)',
        ],
        [
          `SELECT account_id, credits_posted - debits_posted - debits_pending AS available
           FROM balances WHERE debits_limited AND debits_posted + debits_pending > credits_posted`,
          'account $account_id is below zero (available $available)',
        ],
        [
          `SELECT a.currency, sum(b.credits_posted - b.debits_posted) AS total
           FROM balances b JOIN ledger_accounts a ON a.id = b.account_id GROUP BY a.currency
           HAVING sum(b.credits_posted - b.debits_posted) <> 0`,
          'currency $currency is not conserved (total $total)',
        ],
      ];
      const problems: string[] = [];
      for (const [sql, template] of checks) {
        const rows: Record<string, unknown>[] = await manager.query(`${sql} LIMIT ${verify_problems_max}`);
        for (const row of rows) problems.push(template.replace(/\$(\w+)/g, (_, key: string) => String(row[key]).trim()));
      }
      return { ok: problems.length === 0, entries_checked: Number(entries), problems: problems.slice(0, verify_problems_max) };
    });
  }
}
