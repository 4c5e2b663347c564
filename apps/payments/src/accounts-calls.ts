import { ApiError, ErrorCode, type GetHoldReply, type GetTransferReply, Subjects } from '@paynet/contracts';
import { type RpcClient, RpcTimeoutError } from '@paynet/platform';
import { attemptLookup } from './payment-intents/attempts.js';
import type { PaymentIntentRow } from './payment-intents/payment-intent.js';

/**
 * True when accounts answered a money command with a refusal (any 4xx:
 * insufficient funds, an account gone, a hold expired): it was not applied,
 * and never will be under that id. Anything else (a timeout, a 5xx) leaves
 * the outcome unknown, and the caller keeps what it wrote down so the same
 * command can be sent again.
 */
export function isRefusal(error: unknown): error is ApiError {
  return error instanceof ApiError && !(error instanceof RpcTimeoutError) && error.status >= 400 && error.status < 500;
}

/** What pay answers when the outcome is unknown: 503, not stored, so the same request may be sent again. */
export function ledgerUnavailable(): ApiError {
  return new ApiError(
    503,
    'api_error',
    ErrorCode.ledger_unavailable,
    'The ledger did not answer in time. The payment is processing and will be settled shortly; sending the same request again is safe.',
  );
}

/** What accounts says became of an attempt's transfer or hold: applied (by whom), refused for good, or never seen. */
export type AttemptFate = { fate: 'applied'; payer_account: string; hold_expires_at: string | null } | { fate: 'refused'; refusal: ApiError } | { fate: 'unseen' };

/** Asks accounts about the intent's current attempt (a timeout or 5xx throws: the fate is unknown). */
export async function attemptFate(rpc: RpcClient, row: PaymentIntentRow): Promise<AttemptFate> {
  const lookup = attemptLookup(row);
  const reply =
    lookup.subject === Subjects.accounts.transfersGet
      ? await rpc.request<GetTransferReply>(lookup.subject, lookup.request)
      : await rpc.request<GetHoldReply>(lookup.subject, lookup.request);
  if (!reply.found) {
    const refusal = reply.refused && ApiError.fromEnvelope(reply.refused);
    return refusal ? { fate: 'refused', refusal } : { fate: 'unseen' };
  }
  if ('hold_id' in reply) return { fate: 'applied', payer_account: reply.debit_account, hold_expires_at: String(reply.expires_at) };
  const debit = reply.lines.find((line) => line.direction === 'debit');
  // A payment's transfer debits its payer first (payTransfer): anything else is not ours.
  if (!debit) throw new Error(`transfer ${reply.transfer_id} has no debit line`);
  return { fate: 'applied', payer_account: debit.account, hold_expires_at: null };
}
