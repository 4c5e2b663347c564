import type { AccountObject, MerchantObject, PaymentIntentObject } from '@paynet/contracts';
import { PaynetClient } from '@paynet/sdk';
import { adminFetch, type FetchResult, type InProcessStack, jsonFetch } from '@paynet/testing';

/** Shared by the payments integration tests: merchants, funded holders, pay, balances. */

export type TestMerchant = PaynetClient & { id: string };

/** A merchant made by the operator, with an SDK client signing as it (payments at `payments_url`, default the stack's). */
export async function testMerchant(stack: InProcessStack, currency = 'USD', fee_bps = 0, payments_url = stack.urls.payments): Promise<TestMerchant> {
  const created = await adminFetch<MerchantObject>(stack, 'merchants', 'POST', '/v1/merchants', { name: 'Shop', currency, fee_bps });
  expect(created.status).toBe(201);
  const client = new PaynetClient({
    apiKey: created.body.api_key as string,
    apiSecret: created.body.api_secret as string,
    urls: { merchants: stack.urls.merchants as string, payments: payments_url as string, push: 'http://127.0.0.1:9' },
  });
  return Object.assign(client, { id: created.body.id });
}

/** A wallet made by the operator, funded by a deposit when `amount` > 0. */
export async function fundedHolder(stack: InProcessStack, amount: number, currency = 'USD'): Promise<AccountObject> {
  const created = await adminFetch<AccountObject>(stack, 'accounts', 'POST', '/v1/accounts', { currency, owner_name: 'Holder' });
  if (amount > 0) {
    await adminFetch(stack, 'accounts', 'POST', `/v1/accounts/${created.body.id}/deposits`, { amount }, { idempotencyKey: `fund-${created.body.id}` });
  }
  return created.body;
}

/** POST .../pay as the holder, to the payments replica at `payments_url`. */
export function payIntent(payments_url: string, intent_id: string, payer: AccountObject, key: string, account = payer.id): Promise<FetchResult<PaymentIntentObject>> {
  return jsonFetch<PaymentIntentObject>(`${payments_url}/v1/payment-intents/${intent_id}/pay`, {
    method: 'POST',
    headers: { authorization: `Bearer ${payer.token}`, 'idempotency-key': key },
    body: { account },
  });
}

export async function availableBalance(stack: InProcessStack, account: AccountObject): Promise<number> {
  const balance = await jsonFetch<{ available: number }>(`${stack.urls.accounts}/v1/accounts/${account.id}/balance`, {
    headers: { authorization: `Bearer ${account.token}` },
  });
  return balance.body.available;
}
