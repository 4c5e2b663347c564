import { Injectable } from '@nestjs/common';
import {
  ApiError,
  ErrorCode,
  type GetHoldReply,
  type HoldVoidReason,
  type HoldWire,
  IdPrefix,
  newId,
  type PlaceHoldReply,
  type PostHoldReply,
  type VoidHoldReply,
} from '@paynet/contracts';
import {
  type AccountBalance,
  applyEntry,
  applyHold,
  type ApplyHoldError,
  compareHolds,
  type HoldDifference,
  type HoldRequest,
  isHoldExpired,
  type JournalEntry,
  type LedgerAccount,
  postHold,
  type PostHoldError,
  voidHold,
} from '@paynet/ledger';
import { OutboxStatement, withTransaction } from '@paynet/platform';
import { DataSource, type EntityManager } from 'typeorm';
import { type EntryToAppend, findPlatformAccountId, lockAccounts, writeBalances, writeBatch } from '../ledger/ledger.repository.js';
import { walletEvents } from '../ledger/balance-events.js';
import type { PlaceHoldInput, PostHoldInput } from './holds.messages.js';
import { holds_commands_total, holds_expired_total } from './holds.metrics.js';
import {
  databaseNowSeconds,
  entryLines,
  findHold,
  type HoldRow,
  insertHold,
  lockExpiredHolds,
  lockHold,
  markPosted,
  markVoided,
  takenOrRefused,
  toHold,
} from './holds.repository.js';
import { accountRejectionError, assertUnreachable, isAccountRejection } from '../ledger/account-rejection.js';
import { answerToCopy, findRefusals, recordRefusals } from '../ledger/refused-commands.js';

/** A concurrent place inserted the same hold id first: roll back and run again, and it is then seen as existing. */
class HoldRaced extends Error {}
const race_attempts_max = 3;

/**
 * Two-phase holds over @paynet/ledger, each command one PostgreSQL
 * transaction and idempotent by the caller's hold id. Lock order, everywhere:
 * the hold row first (post, void, sweep), then balance rows in account-id
 * order (`lockAccounts`). Place locks only balance rows (the hold row it
 * inserts is new, and a re-send only reads it), and transfers lock only
 * balance rows, so no two transactions ever wait on each other in a cycle.
 * Each change of a wallet's balance writes its `account.balance_updated`
 * event in the statement that writes the balance (balance-events.ts).
 */
@Injectable()
export class HoldsService {
  private readonly fee_account_ids = new Map<string, string>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: OutboxStatement,
  ) {}

  place(input: PlaceHoldInput): Promise<PlaceHoldReply> {
    return this.run('place', (manager) => this.placeIn(manager, input));
  }

  post(input: PostHoldInput): Promise<PostHoldReply> {
    return this.run('post', (manager) => this.postIn(manager, input));
  }

  void(hold_id: string): Promise<VoidHoldReply> {
    return this.run('void', (manager) => this.voidIn(manager, hold_id));
  }

  /** Placed (found, in whatever state), its place refused for good (with the refusal it was answered), or never seen. */
  async get(hold_id: string): Promise<GetHoldReply> {
    const row = await findHold(this.dataSource.manager, hold_id);
    if (row) return { found: true, ...mapHold(row) };
    const refusal = (await findRefusals(this.dataSource.manager, 'hold', [hold_id])).get(hold_id);
    return refusal ? { found: false, refused: refusal.error.toEnvelope() } : { found: false };
  }

  /** Voids up to `limit` expired pending holds in one transaction; answers how many. */
  async voidExpired(limit: number): Promise<number> {
    const voided = await withTransaction(this.dataSource, async (manager) => {
      const rows = await lockExpiredHolds(manager, limit);
      if (rows.length === 0) return 0;
      const holds = rows.map(toHold);
      const locked = await lockAccounts(manager, holds.flatMap((hold) => [hold.debit_account_id, hold.credit_account_id]));
      const { balances } = locked;
      const events = [];
      for (const hold of holds) {
        const result = voidHold(hold, balances);
        // Selected as pending under lock: anything else is a bug.
        if (!result.ok) throw new Error(`expired hold ${hold.id} could not be voided: ${result.error}`);
        // One event per hold released, with the balance it left (a wallet may have several expire at once).
        events.push(...walletEvents(locked, result.balances));
        for (const [account_id, balance] of result.balances) balances.set(account_id, balance);
      }
      await markVoided(manager, holds.map((hold) => hold.id), 'expired');
      await writeBalances(manager, balances, { outbox: this.outbox, events });
      return rows.length;
    });
    holds_expired_total.inc(voided);
    return voided;
  }

  /** Places the hold; a refusal for its accounts' state is recorded and answered (committed, so it stays final). */
  private async placeIn(manager: EntityManager, input: PlaceHoldInput): Promise<PlaceHoldReply | ApiError> {
    const request: HoldRequest = {
      id: input.hold_id,
      currency: input.currency,
      debit_account_id: input.debit_account,
      credit_account_id: input.credit_account,
      amount_minor: input.amount_minor,
      expires_at: input.expires_at,
    };
    const account_ids = [request.debit_account_id, request.credit_account_id];
    // Locked first, so a concurrent place of the same id over the same accounts has committed by now and is seen.
    const locked = await lockAccounts(manager, account_ids);
    const existing = await findHold(manager, request.id);
    if (existing) return mapPlaceReply(assertSameHold(existing, request, input), 'already_applied');
    const { taken, refusal } = await takenOrRefused(manager, request.id, [request.id, feeEntryId(request.id)]);
    if (refusal) throw answerToCopy(refusal, holdFingerprint(input), 'hold');
    if (taken.length > 0) throw ApiError.conflict(ErrorCode.hold_exists_with_different_fields, `A transfer with id ${taken[0]} exists; a hold needs an id of its own.`);
    const placed = applyHold(request, await databaseNowSeconds(manager), locked.accounts, locked.balances);
    if (!placed.ok) return refusePlace(manager, input, placed.error);
    const row = await insertHold(manager, { hold: placed.hold, description: input.description, payment_intent: input.payment_intent ?? null });
    if (!row) throw new HoldRaced();
    await writeBalances(manager, placed.balances, { outbox: this.outbox, events: walletEvents(locked, placed.balances) });
    return mapPlaceReply(row, 'applied');
  }

  private async postIn(manager: EntityManager, input: PostHoldInput): Promise<PostHoldReply> {
    const fee_minor = input.fee_minor ?? 0n;
    const row = await lockHold(manager, input.hold_id);
    if (!row) throw ApiError.notFound('hold', input.hold_id, 'hold_id');
    if (row.state === 'posted') return this.postedReply(manager, assertSamePost(row, input.amount_minor, fee_minor));
    if (row.state === 'voided') throw voidedError(row);
    const hold = toHold(row);
    const fee_account_id = fee_minor > 0n ? await this.feeAccountId(manager, row) : undefined;
    const account_ids = [hold.debit_account_id, hold.credit_account_id, ...(fee_account_id ? [fee_account_id] : [])];
    const locked = await lockAccounts(manager, account_ids);
    const { accounts, balances } = locked;
    const posted = postHold(hold, input.amount_minor, await databaseNowSeconds(manager), accounts, balances);
    if (!posted.ok) throw postRejection(posted.error, row);
    const events = walletEvents(locked, posted.balances);
    const next = new Map([...balances, ...posted.balances]);
    const entries: EntryToAppend[] = [journalItem(posted.entry, posted.lines, row.description, row)];
    if (fee_account_id) {
      const fee = feeItem(row, fee_minor, fee_account_id, accounts, next);
      // The fee is a second change (of the credit account, a merchant's as payments uses holds): its own events, if any.
      events.push(...walletEvents({ ...locked, balances: new Map([...balances, ...posted.balances]) }, fee.changed));
      entries.push(fee.item);
    }
    const created = await writeBatch(manager, entries, next, { outbox: this.outbox, events });
    if (created === undefined) throw ApiError.conflict(ErrorCode.hold_exists_with_different_fields, `A transfer took the journal id of hold ${row.id}.`);
    const updated = await markPosted(manager, hold.id, input.amount_minor, fee_minor);
    return mapPostReply(updated, 'applied', created, entries[0]?.line_ids ?? [], entries[1]?.line_ids ?? []);
  }

  private async voidIn(manager: EntityManager, hold_id: string): Promise<VoidHoldReply> {
    const row = await lockHold(manager, hold_id);
    if (!row) throw ApiError.notFound('hold', hold_id, 'hold_id');
    if (row.state === 'voided') return mapVoidReply(row, 'already_applied');
    if (row.state === 'posted') throw ApiError.conflict(ErrorCode.hold_already_posted, `Hold ${row.id} is posted; it can no longer be voided.`);
    const hold = toHold(row);
    const locked = await lockAccounts(manager, [hold.debit_account_id, hold.credit_account_id]);
    const voided = voidHold(hold, locked.balances);
    if (!voided.ok) throw postRejection(voided.error, row);
    const reason: HoldVoidReason = isHoldExpired(hold, await databaseNowSeconds(manager)) ? 'expired' : 'requested';
    const [updated] = await markVoided(manager, [hold.id], reason);
    await writeBalances(manager, voided.balances, { outbox: this.outbox, events: walletEvents(locked, voided.balances) });
    return mapVoidReply(updated as HoldRow, 'applied');
  }

  /** The answer to a post already applied, rebuilt from the rows it wrote: the same as the first answer. */
  private async postedReply(manager: EntityManager, row: HoldRow): Promise<PostHoldReply> {
    const fee_id = feeEntryId(row.id);
    const { created, line_ids } = await entryLines(manager, [row.id, fee_id]);
    return mapPostReply(row, 'already_applied', created, line_ids.get(row.id) ?? [], line_ids.get(fee_id) ?? []);
  }

  /** The platform fee account never changes, so it is looked up once per currency and process. */
  private async feeAccountId(manager: EntityManager, row: HoldRow): Promise<string> {
    const cached = this.fee_account_ids.get(row.currency);
    const id = cached ?? (await findPlatformAccountId(manager, 'fees', row.currency));
    if (!id) throw ApiError.badRequest(ErrorCode.currency_mismatch, `No platform fee account in ${row.currency}.`, 'fee_minor');
    if (id === row.credit_account_id) throw ApiError.badRequest(ErrorCode.parameter_invalid, 'A hold for the fee account carries no fee.', 'fee_minor');
    this.fee_account_ids.set(row.currency, id);
    return id;
  }

  /**
   * One command, one transaction; a lost race on the hold id is run again (bounded), then seen as a re-send.
   * A refusal `work` answers (rather than throws) is committed, then thrown: it recorded itself.
   */
  private async run<T extends { result: string }>(command: string, work: (manager: EntityManager) => Promise<T | ApiError>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        const reply = await withTransaction(this.dataSource, work);
        if (reply instanceof ApiError) throw reply;
        holds_commands_total.inc({ command, outcome: reply.result });
        return reply;
      } catch (error) {
        if (error instanceof HoldRaced && attempt < race_attempts_max) continue;
        holds_commands_total.inc({ command, outcome: error instanceof ApiError ? error.code : 'error' });
        throw error;
      }
    }
  }
}

/** A place refused: recorded when the refusal is about the accounts' state (so it is final), and answered. */
async function refusePlace(manager: EntityManager, input: PlaceHoldInput, error: ApplyHoldError): Promise<ApiError> {
  const refusal = placeRejection(error);
  if (isAccountRejection(error)) await recordRefusals(manager, 'hold', [{ id: input.hold_id, fingerprint: holdFingerprint(input), error: refusal }]);
  return refusal;
}

/** A place's content as assertSameHold compares it, as text. */
function holdFingerprint(input: PlaceHoldInput): string {
  const { currency, debit_account, credit_account, amount_minor, expires_at, description, payment_intent } = input;
  return JSON.stringify([currency, debit_account, credit_account, amount_minor.toString(), expires_at, description, payment_intent ?? null]);
}

function feeEntryId(hold_id: string): string {
  return `${hold_id}:fee`;
}

function journalItem(entry: JournalEntry, lines: EntryToAppend['lines'], description: string, row: HoldRow): EntryToAppend {
  return { entry, lines, line_ids: lines.map(() => newId(IdPrefix.transaction)), description, payment_intent: row.payment_intent };
}

/** The fee, out of what the credit account just received, to the platform fee account; updates `balances`, answers what it changed. */
function feeItem(
  row: HoldRow,
  fee_minor: bigint,
  fee_account_id: string,
  accounts: ReadonlyMap<string, LedgerAccount>,
  balances: Map<string, AccountBalance>,
): { item: EntryToAppend; changed: Map<string, AccountBalance> } {
  const entry: JournalEntry = {
    id: feeEntryId(row.id),
    currency: row.currency,
    lines: [
      { account_id: row.credit_account_id, direction: 'debit', amount_minor: fee_minor },
      { account_id: fee_account_id, direction: 'credit', amount_minor: fee_minor },
    ],
  };
  const result = applyEntry(entry, accounts, balances);
  // The fee is at most the amount just credited (checked at the edge), so a refusal here is a bug.
  if (!result.ok) throw new Error(`fee of hold ${row.id} refused: ${result.error}`);
  for (const [account_id, balance] of result.balances) balances.set(account_id, balance);
  return { item: journalItem(entry, result.lines, `Platform fee: ${row.description}`, row), changed: result.balances };
}

const wire_fields: Record<HoldDifference, string> = {
  currency: 'currency',
  debit_account_id: 'debit_account',
  credit_account_id: 'credit_account',
  amount_minor: 'amount_minor',
  expires_at: 'expires_at',
};

/** A hold id seen before with other content is refused naming the field; the same content answers the stored row. */
function assertSameHold(existing: HoldRow, request: HoldRequest, input: PlaceHoldInput): HoldRow {
  const comparison = compareHolds(toHold(existing), request);
  const field = !comparison.same
    ? wire_fields[comparison.field]
    : existing.description !== input.description
      ? 'description'
      : existing.payment_intent !== (input.payment_intent ?? null)
        ? 'payment_intent'
        : undefined;
  if (field === undefined) return existing;
  throw new ApiError(409, 'invalid_request_error', ErrorCode.hold_exists_with_different_fields, `Hold ${request.id} exists with different ${field}.`, field);
}

/** A posted hold answers the same post again; a post with another amount or fee is refused. */
function assertSamePost(row: HoldRow, amount_minor: bigint, fee_minor: bigint): HoldRow {
  const field = BigInt(row.posted_amount) !== amount_minor ? 'amount_minor' : BigInt(row.fee_amount) !== fee_minor ? 'fee_minor' : undefined;
  if (field === undefined) return row;
  const message = `Hold ${row.id} is already posted (amount_minor ${row.posted_amount}, fee_minor ${row.fee_amount}).`;
  throw new ApiError(409, 'invalid_request_error', ErrorCode.hold_already_posted, message, field);
}

/** A hold the sweeper (or a void after expires_at) released reads as expired to a late post. */
function voidedError(row: HoldRow): ApiError {
  return row.void_reason === 'expired'
    ? ApiError.conflict(ErrorCode.hold_expired, `Hold ${row.id} expired at ${row.expires_at}; it can only be voided.`)
    : ApiError.conflict(ErrorCode.hold_already_voided, `Hold ${row.id} is voided.`);
}

/** Every refusal of a place mapped to its API error; a new one cannot go unmapped (the switch is exhaustive). */
function placeRejection(error: ApplyHoldError): ApiError {
  switch (error) {
    case 'insufficient_funds':
    case 'account_missing':
    case 'currency_mismatch':
    case 'credits_exceed_debits':
    case 'balance_overflow':
      return accountRejectionError(error, 'hold');
    case 'expires_at_invalid':
      return ApiError.badRequest(ErrorCode.parameter_invalid, 'expires_at must be in the future.', 'expires_at');
    case 'accounts_must_be_different':
      return ApiError.badRequest(ErrorCode.parameter_invalid, 'The debit and credit accounts must differ.', 'credit_account');
    case 'id_invalid':
    case 'currency_invalid':
    case 'amount_invalid':
      return ApiError.badRequest(ErrorCode.parameter_invalid, `The hold is invalid: ${error}.`);
    default:
      return assertUnreachable(error);
  }
}

function postRejection(error: PostHoldError, row: HoldRow): ApiError {
  switch (error) {
    case 'hold_expired':
      return ApiError.conflict(ErrorCode.hold_expired, `Hold ${row.id} expired at ${row.expires_at}; it can only be voided.`);
    case 'hold_already_posted':
      return ApiError.conflict(ErrorCode.hold_already_posted, `Hold ${row.id} is already posted.`);
    case 'hold_already_voided':
      return voidedError(row);
    case 'amount_invalid':
      return ApiError.badRequest(ErrorCode.amount_too_large, `amount_minor is more than the ${row.amount} held.`, 'amount_minor');
    default:
      return assertUnreachable(error);
  }
}


export function mapHold(row: HoldRow): HoldWire {
  const wire: HoldWire = {
    hold_id: row.id,
    currency: row.currency,
    debit_account: row.debit_account_id,
    credit_account: row.credit_account_id,
    amount_minor: row.amount,
    expires_at: Number(row.expires_at),
    state: row.state,
    posted_amount_minor: row.posted_amount,
    fee_minor: row.fee_amount,
    void_reason: row.void_reason,
    description: row.description,
    created: Number(row.created),
    updated: Number(row.updated),
  };
  if (row.payment_intent !== null) wire.payment_intent = row.payment_intent;
  return wire;
}

function mapPlaceReply(row: HoldRow, result: PlaceHoldReply['result']): PlaceHoldReply {
  return { hold_id: row.id, result, state: row.state, amount_minor: row.amount, expires_at: Number(row.expires_at) };
}

function mapPostReply(row: HoldRow, result: PostHoldReply['result'], created: number, line_ids: string[], fee_line_ids: string[]): PostHoldReply {
  return {
    hold_id: row.id,
    result,
    state: 'posted',
    amount_minor: row.amount,
    posted_amount_minor: row.posted_amount,
    released_minor: (BigInt(row.amount) - BigInt(row.posted_amount)).toString(),
    fee_minor: row.fee_amount,
    created,
    line_ids,
    fee_line_ids,
  };
}

function mapVoidReply(row: HoldRow, result: VoidHoldReply['result']): VoidHoldReply {
  return { hold_id: row.id, result, state: 'voided', amount_minor: row.amount, released_minor: row.amount, void_reason: row.void_reason ?? 'requested' };
}
