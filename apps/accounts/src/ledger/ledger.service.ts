import { Injectable } from '@nestjs/common';
import {
  amountFromWire,
  ApiError,
  type BalanceObject,
  ErrorCode,
  newId,
  IdPrefix,
  PlatformAccount,
  type PostTransferCommand,
  type TransferReply,
  type GetTransferReply,
  type JsonInteger,
  type PlatformEvent,
} from '@paynet/contracts';
import { applyEntry, compareEntries, type AccountBalance, type AppliedLine, type ApplyEntryError, type JournalEntry, type LedgerAccount } from '@paynet/ledger';
import { OutboxStatement, withTransaction } from '@paynet/platform';
import { DataSource, type EntityManager } from 'typeorm';
import { findPlatformAccountId, findStoredEntries, lockBatch, type LockedBatch, readBalance, type StoredEntry, writeBatch } from './ledger.repository.js';
import { accountRejectionError, assertUnreachable, isAccountRejection } from './account-rejection.js';
import { balanceObject, walletEvents } from './balance-events.js';
import { answerToCopy, findRefusals, type Refusal, transferFingerprint } from './refused-commands.js';

/** The most transfers one database transaction applies (TigerBeetle batches 8,190; ours are bounded by statement size). */
export const batch_transfers_max = 256;

/** A concurrent transaction inserted one of this batch's transfer ids first: roll back and apply the batch again. */
export class TransferRaced extends Error {}

/** What one command of a batch came to: its reply, or the error it answers with. */
export type TransferOutcome = { ok: true; reply: TransferReply } | { ok: false; error: ApiError };

/** Within a batch: done, applied now, or the same id as one applied earlier in the batch. */
type Outcome = TransferOutcome | AppliedTransfer | { same_as: AppliedTransfer };

interface AppliedTransfer {
  command: PostTransferCommand;
  entry: JournalEntry;
  lines: AppliedLine[];
  line_ids: string[];
}

/**
 * Persists @paynet/ledger. A batch of transfers is one PostgreSQL
 * transaction: lock every touched balance row once, in account-id order (no
 * deadlocks); only then look for transfer ids already applied (a concurrent
 * duplicate touched the same rows, so it has committed and is visible);
 * apply each transfer in memory, in order, with the pure model, each
 * succeeding or failing on its own; append entries and postings and write
 * the balances in bulk, with an `account.balance_updated` event per wallet
 * per transfer applied (balance-events.ts) in the same statement. A transfer
 * id is applied at most once, whoever re-sends it and however often.
 */
@Injectable()
export class LedgerService {
  private readonly platform_accounts = new Map<string, string>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: OutboxStatement,
  ) {}

  /** One transfer, in the caller's transaction (deposits) or its own. */
  async postTransfer(command: PostTransferCommand, manager?: EntityManager): Promise<TransferReply> {
    const run = (tx: EntityManager) => this.applyBatch(tx, [command]);
    const [outcome] = manager ? await run(manager) : await retryRaces(() => withTransaction(this.dataSource, run));
    if (!outcome) throw new Error('a batch of one answered nothing');
    if (!outcome.ok) throw outcome.error;
    return outcome.reply;
  }

  /** Applied (found), refused for good (with the refusal it was answered), or never seen. */
  async getTransfer(transfer_id: string): Promise<GetTransferReply> {
    const stored = (await findStoredEntries(this.dataSource.manager, [transfer_id])).get(transfer_id);
    if (stored) {
      const lines = stored.entry.lines.map((line) => ({ account: line.account_id, direction: line.direction, amount_minor: line.amount_minor.toString() }));
      return { found: true, ...storedReply(stored), lines };
    }
    const refusal = (await findRefusals(this.dataSource.manager, 'transfer', [transfer_id])).get(transfer_id);
    return refusal ? { found: false, refused: refusal.error.toEnvelope() } : { found: false };
  }

  async balanceOf(account: LedgerAccount, manager: EntityManager = this.dataSource.manager): Promise<BalanceObject<JsonInteger>> {
    return balanceObject(account, (await readBalance(manager, account.id)) as AccountBalance);
  }

  /**
   * Applies `commands` in order inside `manager`'s transaction; one outcome per command. Two statements: read under lock,
   * write (which checks the read's decisions in a snapshot taken under the locks, see lockBatch).
   */
  async applyBatch(manager: EntityManager, commands: readonly PostTransferCommand[]): Promise<TransferOutcome[]> {
    assert(commands.length > 0 && commands.length <= batch_transfers_max, 'batch size out of bounds');
    const entries = await Promise.all(commands.map((command) => this.resolveEntry(manager, command)));
    const account_ids = entries.flatMap((entry) => (entry instanceof ApiError ? [] : entry.lines.map((line) => line.account_id)));
    const locked = await lockBatch(manager, account_ids, commands.map((command) => command.transfer_id));
    const decided: BatchDecided = { applied: new Map(), refused: new Map(), touched: new Set(), events: [] };
    const outcomes = commands.map((command, index) => decide(command, entries[index] as JournalEntry | ApiError, locked, decided));
    const { balances } = locked;
    const created = await this.write(manager, decided, new Map([...decided.touched].map((id) => [id, balances.get(id) as AccountBalance])));
    return outcomes.map((outcome) => {
      if ('ok' in outcome) return outcome;
      if ('same_as' in outcome) {
        return { ok: true, reply: { transfer_id: outcome.same_as.entry.id, result: 'already_applied', created, line_ids: outcome.same_as.line_ids } };
      }
      return { ok: true, reply: { transfer_id: outcome.entry.id, result: 'applied', created, line_ids: outcome.line_ids } };
    });
  }

  /** Writes entries, postings, balances, events and refusals in one statement; answers their creation time (the transaction's). */
  private async write(manager: EntityManager, decided: BatchDecided, balances: ReadonlyMap<string, AccountBalance>): Promise<number> {
    const transfers = [...decided.applied.values()];
    if (transfers.length === 0 && decided.refused.size === 0) return Math.floor(Date.now() / 1000);
    const created = await writeBatch(
      manager,
      transfers.map((transfer) => ({
        entry: transfer.entry,
        lines: transfer.lines,
        line_ids: transfer.line_ids,
        description: transfer.command.description,
        payment_intent: transfer.command.payment_intent ?? null,
      })),
      balances,
      { outbox: this.outbox, events: decided.events },
      { refusals: [...decided.refused.values()], decided_ids: [...decided.applied.keys(), ...decided.refused.keys()] },
    );
    if (created === undefined) throw new TransferRaced();
    return created;
  }

  /** Turns the wire command into a ledger entry: amounts parsed, platform roles resolved. */
  private async resolveEntry(manager: EntityManager, command: PostTransferCommand): Promise<JournalEntry | ApiError> {
    const lines = [];
    for (const line of command.lines) {
      const account_id = await this.resolveAccount(manager, line.account, command.currency);
      if (account_id instanceof ApiError) return account_id;
      lines.push({ account_id, direction: line.direction, amount_minor: amountFromWire(line.amount_minor) });
    }
    return { id: command.transfer_id, currency: command.currency, lines };
  }

  /** Platform accounts never change, so their ids are looked up once per process. */
  private async resolveAccount(manager: EntityManager, account: string, currency: string): Promise<string | ApiError> {
    if (account !== PlatformAccount.funding && account !== PlatformAccount.fees) return account;
    const kind = account === PlatformAccount.funding ? 'funding' : 'fees';
    const key = `${kind}:${currency}`;
    const cached = this.platform_accounts.get(key);
    if (cached) return cached;
    const id = await findPlatformAccountId(manager, kind, currency);
    if (!id) return ApiError.badRequest(ErrorCode.currency_mismatch, `No platform ${kind} account in ${currency}.`, 'currency');
    this.platform_accounts.set(key, id);
    return id;
  }

}

function storedReply(stored: StoredEntry): TransferReply {
  return { transfer_id: stored.entry.id, result: 'already_applied', created: stored.created, line_ids: stored.line_ids };
}

/** What a batch has decided so far: transfers applied and refused now, accounts whose balance changed, the events that say so. */
interface BatchDecided {
  applied: Map<string, AppliedTransfer>;
  refused: Map<string, Refusal>;
  touched: Set<string>;
  /** One per wallet per transfer applied, with the balance that transfer left, in the order applied. */
  events: PlatformEvent[];
}

/**
 * One command of a batch, in order: answered from the journal or the
 * refusals (a copy), or applied to the locked balances with the pure model.
 * A refusal for the accounts' state is final (refused-commands.ts).
 */
function decide(command: PostTransferCommand, entry: JournalEntry | ApiError, locked: LockedBatch, decided: BatchDecided): Outcome {
  if (entry instanceof ApiError) return { ok: false, error: entry };
  const stored = locked.existing.get(entry.id);
  if (stored) return sameTransfer(stored.entry, entry) ?? { ok: true, reply: storedReply(stored) };
  const refusal = locked.refused.get(entry.id) ?? decided.refused.get(entry.id);
  if (refusal) return { ok: false, error: answerToCopy(refusal, transferFingerprint(entry), 'transfer') };
  const earlier = decided.applied.get(entry.id);
  if (earlier) return sameTransfer(earlier.entry, entry) ?? { same_as: earlier };
  const result = applyEntry(entry, locked.accounts, locked.balances);
  if (!result.ok) {
    const error = rejectionError(result.error);
    if (isAccountRejection(result.error)) decided.refused.set(entry.id, { id: entry.id, fingerprint: transferFingerprint(entry), error });
    return { ok: false, error };
  }
  decided.events.push(...walletEvents(locked, result.balances));
  for (const [account_id, balance] of result.balances) {
    locked.balances.set(account_id, balance);
    decided.touched.add(account_id);
  }
  const transfer: AppliedTransfer = { command, entry, lines: result.lines, line_ids: result.lines.map(() => newId(IdPrefix.transaction)) };
  decided.applied.set(entry.id, transfer);
  return transfer;
}

/** A transfer id seen before with other content is refused naming the field; the same content answers undefined. */
function sameTransfer(existing: JournalEntry, incoming: JournalEntry): TransferOutcome | undefined {
  const comparison = compareEntries(existing, incoming);
  if (comparison.same) return undefined;
  return {
    ok: false,
    error: ApiError.conflict(ErrorCode.transfer_exists_with_different_fields, `Transfer ${incoming.id} exists with different ${comparison.field}.`),
  };
}

export async function retryRaces<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof TransferRaced) || attempt >= race_attempts_max) throw error;
    }
  }
}

const race_attempts_max = 3;

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}

/** Every ledger rejection mapped to its API error; a new one cannot go unmapped (the switch is exhaustive). */
function rejectionError(error: ApplyEntryError): ApiError {
  switch (error) {
    case 'insufficient_funds':
    case 'account_missing':
    case 'currency_mismatch':
    case 'credits_exceed_debits':
    case 'balance_overflow':
      return accountRejectionError(error, 'transfer');
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

