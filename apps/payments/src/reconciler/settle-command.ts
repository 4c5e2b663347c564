import type { PostTransferCommand } from '@paynet/contracts';
import type { PaymentIntentRow } from '../payment-intents/payment-intent.js';
import { payTransfer } from '../payment-intents/payment-intents.service.js';

/** The one ledger command a processing attempt sent, by kind. */
export type SettleCommand = { kind: 'transfer'; transfer: PostTransferCommand };

/**
 * Rebuilt from the row alone, exactly as pay built it (same id, same
 * content), so asking about it or re-sending it is about the same command.
 */
export function settleCommand(row: PaymentIntentRow): SettleCommand {
  return { kind: 'transfer', transfer: payTransfer(row) };
}
