import type { AccountObject, PlaceHoldCommand, PostTransferCommand } from '@paynet/contracts';
import { adminFetch, type InProcessStack } from '@paynet/testing';

/** Shared by the accounts integration tests. */

/** A USD wallet made by the operator, funded by a deposit when `amount` > 0. */
export async function fundedWallet(stack: InProcessStack, amount: number): Promise<AccountObject> {
  const created = await adminFetch<AccountObject>(stack, 'accounts', 'POST', '/v1/accounts', { currency: 'USD', owner_name: 'Holder' });
  expect(created.status).toBe(201);
  if (amount > 0) {
    const deposit = await adminFetch(stack, 'accounts', 'POST', `/v1/accounts/${created.body.id}/deposits`, { amount }, { idempotencyKey: `fund-${created.body.id}` });
    expect(deposit.status).toBe(201);
  }
  return created.body;
}

/** A two-line USD transfer command as payments would send it. */
export function transferCommand(id: string, from: string, to: string, amount: number, description = 'test'): PostTransferCommand {
  return {
    transfer_id: id,
    currency: 'USD',
    description,
    lines: [
      { account: from, direction: 'debit', amount_minor: String(amount) },
      { account: to, direction: 'credit', amount_minor: String(amount) },
    ],
  };
}

/** A USD hold command as payments would send it, expiring in an hour unless `overrides` say otherwise. */
export function holdCommand(hold_id: string, from: string, to: string, amount: number, overrides: Partial<PlaceHoldCommand> = {}): PlaceHoldCommand {
  return {
    hold_id,
    currency: 'USD',
    debit_account: from,
    credit_account: to,
    amount_minor: String(amount),
    expires_at: Math.floor(Date.now() / 1000) + hour_seconds,
    description: 'Payment to Shop (order 1)',
    payment_intent: 'pi_test',
    ...overrides,
  };
}

const hour_seconds = 3_600;
