import { ApiError, ErrorCode } from '@paynet/contracts';
import type { BalanceRejection } from '@paynet/ledger';

/** Refusals that come from an account rather than from the command's shape. */
export type AccountRejection = BalanceRejection | 'account_missing' | 'currency_mismatch';

/** One mapping for transfers and holds alike; the switch is exhaustive, so a new refusal cannot go unmapped. */
export function accountRejectionError(error: AccountRejection, account_id: string | undefined, subject: 'transfer' | 'hold'): ApiError {
  switch (error) {
    case 'insufficient_funds':
      return ApiError.payment(ErrorCode.insufficient_funds, `Insufficient funds in account ${account_id}.`);
    case 'account_missing':
      return ApiError.notFound('account', account_id ?? '', 'account');
    case 'currency_mismatch':
      return ApiError.payment(ErrorCode.currency_mismatch, `Account ${account_id} is in another currency.`);
    case 'credits_exceed_debits':
    case 'balance_overflow':
      return ApiError.conflict(ErrorCode.parameter_invalid, `The ${subject} would break a limit of account ${account_id} (${error}).`);
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
