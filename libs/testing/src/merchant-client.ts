import type { MerchantObject } from '@paynet/contracts';
import { PaynetClient } from '@paynet/sdk';
import { adminFetch } from './http.js';

/** Any URL a test stack does not serve: requests to it fail at once. */
const unreachable_url = 'http://127.0.0.1:9';

export interface NewMerchant {
  name: string;
  currency: string;
  fee_bps?: number;
}

/**
 * Onboards a merchant as the operator and answers an SDK client signing as
 * it, with the merchant's id; services the stack does not run are unreachable.
 */
export async function createMerchantClient(
  stack: { urls: Readonly<Partial<Record<'merchants' | 'payments' | 'push', string>>>; adminToken: string },
  merchant: NewMerchant,
): Promise<PaynetClient & { id: string }> {
  const created = await adminFetch<MerchantObject>(stack, 'merchants', 'POST', '/v1/merchants', merchant);
  if (created.status !== 201) throw new Error(`creating a merchant answered ${created.status}: ${JSON.stringify(created.body)}`);
  const client = new PaynetClient({
    apiKey: created.body.api_key as string,
    apiSecret: created.body.api_secret as string,
    urls: {
      merchants: stack.urls.merchants ?? unreachable_url,
      payments: stack.urls.payments ?? unreachable_url,
      push: stack.urls.push ?? unreachable_url,
    },
  });
  return Object.assign(client, { id: created.body.id });
}
