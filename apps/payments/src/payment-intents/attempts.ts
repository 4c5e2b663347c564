import {
  type Currency,
  type EventType,
  type GetHoldRequest,
  type GetTransferRequest,
  feeMinor,
  type PaymentIntentStatus,
  type PlaceHoldCommand,
  PlatformAccount,
  type PostTransferCommand,
  Subjects,
  type TransferLine,
} from '@paynet/contracts';
import type { IdempotencyClaim } from '@paynet/platform';
import { createHash } from 'node:crypto';
import { assertUnreachable } from '../unreachable.js';
import { paymentDescription, type PaymentIntentRow } from './payment-intent.js';

/**
 * The ledger commands of a payment attempt, rebuilt from the intent's row
 * alone (pure): pay sends them, and sending the same one again (pay re-driven,
 * or the reconciler) settles an answer that was lost, since accounts applies
 * a transfer or hold id at most once.
 */

/**
 * The Idempotency-Key a request was sent with, as an intent's row keeps it
 * (attempt_key, hold_action_key): a digest of the key and its scope, so a
 * re-send of that same request after a lost answer is told from another.
 */
export function requestKeyDigest(claim: IdempotencyClaim | undefined): string | null {
  return claim ? createHash('sha256').update(`${claim.scope}\n${claim.key}`).digest('hex') : null;
}

/** Wallet pays the amount; the merchant gets it less the fee; the fee goes to the platform. */
export function payTransfer(row: PaymentIntentRow): PostTransferCommand {
  const amount = BigInt(row.amount);
  const fee = feeMinor(amount, row.fee_bps);
  const lines: TransferLine[] = [{ account: row.payer_account as string, direction: 'debit', amount_minor: amount.toString() }];
  if (amount - fee > 0n) lines.push({ account: row.merchant_account_id, direction: 'credit', amount_minor: (amount - fee).toString() });
  if (fee > 0n) lines.push({ account: PlatformAccount.fees, direction: 'credit', amount_minor: fee.toString() });
  return {
    transfer_id: transferId(row),
    currency: row.currency.trim() as Currency,
    description: paymentDescription(row),
    payment_intent: row.id,
    lines,
  };
}

/** The transfer of an automatic-capture attempt. */
export function transferId(row: PaymentIntentRow): string {
  return `${row.id}:pay:${row.attempt}`;
}

/** The hold of a manual-capture attempt; posting or voiding it names the same id. */
export function holdId(row: PaymentIntentRow): string {
  return `${row.id}:hold:${row.attempt}`;
}

/**
 * Manual capture: the payer's money is held for the merchant until capture,
 * cancel or hold_expires_at. The fee is charged when the hold is posted.
 */
export function placeHoldCommand(row: PaymentIntentRow): PlaceHoldCommand {
  if (row.payer_account === null || row.hold_expires_at === null) throw new Error(`intent ${row.id} has no hold attempt to send`);
  return {
    hold_id: holdId(row),
    currency: row.currency.trim() as Currency,
    debit_account: row.payer_account,
    credit_account: row.merchant_account_id,
    amount_minor: row.amount,
    expires_at: Number(row.hold_expires_at),
    description: paymentDescription(row),
    payment_intent: row.id,
  };
}

export type AttemptCommand =
  | { subject: typeof Subjects.accounts.transfersPost; command: PostTransferCommand }
  | { subject: typeof Subjects.accounts.holdsPlace; command: PlaceHoldCommand };

/** The command of the intent's current attempt, rebuilt from its row alone: re-sending it settles a lost answer. */
export function attemptCommand(row: PaymentIntentRow): AttemptCommand {
  switch (row.capture_method) {
    case 'automatic':
      return { subject: Subjects.accounts.transfersPost, command: payTransfer(row) };
    case 'manual':
      return { subject: Subjects.accounts.holdsPlace, command: placeHoldCommand(row) };
    default:
      return assertUnreachable(row.capture_method);
  }
}

export type AttemptLookup =
  | { subject: typeof Subjects.accounts.transfersGet; request: GetTransferRequest }
  | { subject: typeof Subjects.accounts.holdsGet; request: GetHoldRequest };

/** How to ask accounts what became of the intent's current attempt (by id alone: a refused attempt's row no longer names its payer). */
export function attemptLookup(row: PaymentIntentRow): AttemptLookup {
  switch (row.capture_method) {
    case 'automatic':
      return { subject: Subjects.accounts.transfersGet, request: { transfer_id: transferId(row) } };
    case 'manual':
      return { subject: Subjects.accounts.holdsGet, request: { hold_id: holdId(row) } };
    default:
      return assertUnreachable(row.capture_method);
  }
}

/** Where an applied attempt leaves the intent, and the event that says so. */
export function attemptOutcome(row: PaymentIntentRow): { status: PaymentIntentStatus; event: EventType } {
  switch (row.capture_method) {
    case 'automatic':
      return { status: 'succeeded', event: 'payment_intent.succeeded' };
    case 'manual':
      return { status: 'requires_capture', event: 'payment_intent.requires_capture' };
    default:
      return assertUnreachable(row.capture_method);
  }
}
