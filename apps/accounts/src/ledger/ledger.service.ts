import { Injectable } from '@nestjs/common';
import {
  amountFromWire,
  ApiError,
  type BalanceObject,
  amountToJson,
  type Currency,
  ErrorCode,
  newId,
  IdPrefix,
  PlatformAccount,
  type PostTransferCommand,
  type TransferReply,
  type GetTransferReply,
} from '@paynet/contracts';
import {
  applyEntry,
  availableBalance,
  compareEntries,
  type AccountBalance,
  type ApplyEntryError,
  type JournalEntry,
  type LedgerAccount,
  pendingBalance,
  postedBalance,
} from '@paynet/ledger';
import { withTransaction } from '@paynet/platform';
import { DataSource, type EntityManager } from 'typeorm';
import {
  findAccounts,
  findPlatformAccountId,
  lockBalances,
  readBalance,
  toLedgerAccount,
  writeBalances,
} from './ledger.repository.js';

/** A concurrent transfer with the same id committed first: retry to answer "already applied". */
class TransferRaced extends Error {}

/**
 * Persists @paynet/ledger: every transfer is one PostgreSQL transaction that
 * locks the touched balance rows in a fixed order, applies the pure model,
 * appends the entry and its postings, and writes the new balances. A transfer
 * id is applied at most once, whoever re-sends it and however often.
 */
@Injectable()
export class LedgerService {
  constructor(private readonly dataSource: DataSource) {}

  postTransfer(command: PostTransferCommand, manager?: EntityManager): Promise<TransferReply> {
    if (manager) return this.postIn(manager, command);
    return this.retryRaces(() => withTransaction(this.dataSource, (tx) => this.postIn(tx, command)));
  }

  async getTransfer(transfer_id: string): Promise<GetTransferReply> {
    const existing = await this.loadEntry(this.dataSource.manager, transfer_id);
    if (!existing) return { found: false };
    return { found: true, ...existing.reply, result: 'already_applied' };
  }

  async balanceOf(account: LedgerAccount, manager: EntityManager = this.dataSource.manager): Promise<BalanceObject> {
    const balance = (await readBalance(manager, account.id)) as AccountBalance;
    return {
      object: 'balance',
      currency: account.currency as Currency,
      posted: amountToJson(postedBalance(account, balance)),
      pending: amountToJson(pendingBalance(account, balance)),
      available: amountToJson(availableBalance(account, balance)),
    };
  }

  private async retryRaces<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof TransferRaced) return work();
      throw error;
    }
  }

  private async postIn(manager: EntityManager, command: PostTransferCommand): Promise<TransferReply> {
    const entry = await this.resolveEntry(manager, command);
    const existing = await this.loadEntry(manager, entry.id);
    if (existing) return this.alreadyApplied(existing.entry, entry, existing.reply);
    const ids = entry.lines.map((line) => line.account_id);
    const balances = await lockBalances(manager, ids);
    const rows = await findAccounts(manager, ids);
    const accounts = new Map([...rows.values()].map((row) => [row.id, toLedgerAccount(row)]));
    const result = applyEntry(entry, accounts, balances);
    if (!result.ok) throw rejectionError(result.error, result.account_id);
    const inserted: { created: string }[] = await manager.query(
      `INSERT INTO journal_entries (id, currency, description, payment_intent) VALUES ($1, $2, $3, $4)
       ON CONFLICT (id) DO NOTHING RETURNING floor(extract(epoch FROM created_at))::bigint AS created`,
      [entry.id, entry.currency, command.description, command.payment_intent ?? null],
    );
    if (inserted.length === 0) throw new TransferRaced();
    const line_ids = result.lines.map(() => newId(IdPrefix.transaction));
    await manager.query(
      `INSERT INTO postings (id, entry_id, line_index, account_id, direction, amount, currency, balance_after)
       SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::bigint[])`,
      [
        line_ids,
        result.lines.map(() => entry.id),
        result.lines.map((_, index) => index),
        result.lines.map((line) => line.account_id),
        result.lines.map((line) => line.direction),
        result.lines.map((line) => line.amount_minor.toString()),
        result.lines.map(() => entry.currency),
        result.lines.map((line) => line.balance_after.toString()),
      ],
    );
    await writeBalances(manager, result.balances);
    return { transfer_id: entry.id, result: 'applied', created: Number(inserted[0]?.created), line_ids };
  }

  private alreadyApplied(existing: JournalEntry, incoming: JournalEntry, reply: TransferReply): TransferReply {
    const comparison = compareEntries(existing, incoming);
    if (!comparison.same) {
      throw ApiError.conflict(
        ErrorCode.transfer_exists_with_different_fields,
        `Transfer ${incoming.id} exists with different ${comparison.field}.`,
      );
    }
    return { ...reply, result: 'already_applied' };
  }

  /** Turns the wire command into a ledger entry: amounts parsed, platform roles resolved. */
  private async resolveEntry(manager: EntityManager, command: PostTransferCommand): Promise<JournalEntry> {
    const lines = [];
    for (const line of command.lines) {
      lines.push({
        account_id: await this.resolveAccount(manager, line.account, command.currency),
        direction: line.direction,
        amount_minor: amountFromWire(line.amount_minor),
      });
    }
    return { id: command.transfer_id, currency: command.currency, lines };
  }

  private async resolveAccount(manager: EntityManager, account: string, currency: string): Promise<string> {
    if (account === PlatformAccount.funding || account === PlatformAccount.fees) {
      const kind = account === PlatformAccount.funding ? 'funding' : 'fees';
      const id = await findPlatformAccountId(manager, kind, currency);
      if (!id) throw ApiError.badRequest(ErrorCode.currency_mismatch, `No platform ${kind} account in ${currency}.`, 'currency');
      return id;
    }
    return account;
  }

  private async loadEntry(manager: EntityManager, id: string): Promise<{ entry: JournalEntry; reply: TransferReply } | undefined> {
    const rows: { currency: string; created: string; line_id: string; account_id: string; direction: 'debit' | 'credit'; amount: string }[] =
      await manager.query(
        `SELECT e.currency, floor(extract(epoch FROM e.created_at))::bigint AS created, p.id AS line_id, p.account_id, p.direction, p.amount
         FROM journal_entries e JOIN postings p ON p.entry_id = e.id WHERE e.id = $1 ORDER BY p.line_index`,
        [id],
      );
    const first = rows[0];
    if (!first) return undefined;
    const entry: JournalEntry = {
      id,
      currency: first.currency.trim(),
      lines: rows.map((row) => ({ account_id: row.account_id, direction: row.direction, amount_minor: BigInt(row.amount) })),
    };
    const reply: TransferReply = { transfer_id: id, result: 'already_applied', created: Number(first.created), line_ids: rows.map((row) => row.line_id) };
    return { entry, reply };
  }
}

/** Every ledger rejection mapped to its API error; a new one cannot go unmapped (the switch is exhaustive). */
function rejectionError(error: ApplyEntryError, account_id: string | undefined): ApiError {
  switch (error) {
    case 'insufficient_funds':
      return ApiError.payment(ErrorCode.insufficient_funds, `Insufficient funds in account ${account_id}.`);
    case 'account_missing':
      return ApiError.notFound('account', account_id ?? '', 'account');
    case 'currency_mismatch':
      return ApiError.payment(ErrorCode.currency_mismatch, `Account ${account_id} is in another currency.`);
    case 'credits_exceed_debits':
    case 'balance_overflow':
      return ApiError.conflict(ErrorCode.parameter_invalid, `The transfer would break a limit of account ${account_id} (${error}).`);
    case 'id_invalid':
    case 'currency_invalid':
    case 'too_few_lines':
    case 'too_many_lines':
    case 'direction_invalid':
    case 'amount_invalid':
    case 'debit_missing':
    case 'credit_missing':
    case 'entry_unbalanced':
      return ApiError.badRequest(ErrorCode.parameter_invalid, `The transfer is invalid: ${error}.`);
    default:
      return assertUnreachable(error);
  }
}

function assertUnreachable(value: never): never {
  throw new Error(`unmapped ledger error: ${String(value)}`);
}
