import { ApiError, ErrorCode } from '@paynet/contracts';
import type { BalanceRejection } from '@paynet/ledger';

/** Refusals that come from an account rather than from the command's shape. */
export type AccountRejection = BalanceRejection | 'account_missing' | 'currency_mismatch';

/**
 * One mapping for transfers and holds alike; the switch is exhaustive, so a
 * new refusal cannot go unmapped. The messages name no account: they reach
 * API callers (through payments) who know the merchant's or the platform's
 * ledger accounts by no id, and must not learn them; the caller knows which
 * of its accounts a refusal is about.
 */
export function accountRejectionError(error: AccountRejection, subject: 'transfer' | 'hold'): ApiError {
  switch (error) {
    case 'insufficient_funds':
      return ApiError.payment(ErrorCode.insufficient_funds, `The debited account's available balance cannot cover this ${subject}.`);
    case 'account_missing':
      return new ApiError(404, 'invalid_request_error', ErrorCode.resource_missing, `An account this ${subject} names does not exist.`, 'account');
    case 'currency_mismatch':
      return ApiError.payment(ErrorCode.currency_mismatch, `An account this ${subject} names is in another currency.`);
    case 'credits_exceed_debits':
    case 'balance_overflow':
      return ApiError.conflict(ErrorCode.parameter_invalid, `The ${subject} would break the limit of an account it names (${error}).`);
    default:
      return assertUnreachable(error);
  }
}

export function assertUnreachable(value: never): never {
  throw new Error(`unmapped refusal: ${String(value)}`);
}

const account_rejections: ReadonlySet<string> = new Set<AccountRejection>([
  'insufficient_funds',
  'account_missing',
  'currency_mismatch',
  'credits_exceed_debits',
  'balance_overflow',
]);

/**
 * True for a refusal that depends on the accounts' state, not on the
 * command's shape: the same command could apply later (after a deposit, say),
 * so its refusal is written down to stay final (refused-commands.ts).
 */
export function isAccountRejection(error: string): error is AccountRejection {
  return account_rejections.has(error);
}
