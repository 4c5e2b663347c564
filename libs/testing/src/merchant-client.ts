import type { MerchantObject } from '@paynet/contracts';
import { PaynetClient } from '@paynet/sdk';
import { adminFetch } from './http.js';

/** Any URL a test stack does not serve: requests to it fail at once. */
const unreachable_url = 'http://127.0.0.1:9';

export interface NewMerchant {
  name: string;
  currency: string;
  fee_bps?: number;
  /** The merchant's first webhook endpoint; its secret comes back as `webhook_secret`. */
  webhook_url?: string;
}

type MerchantStack = { urls: Readonly<Partial<Record<'merchants' | 'payments' | 'push', string>>>; adminToken: string };

/** Onboards a merchant as the operator; answers it with its secrets (shown only here). */
export async function onboardMerchant(stack: MerchantStack, merchant: NewMerchant): Promise<MerchantObject> {
  const created = await adminFetch<MerchantObject>(stack, 'merchants', 'POST', '/v1/merchants', merchant);
  if (created.status !== 201) throw new Error(`creating a merchant answered ${created.status}: ${JSON.stringify(created.body)}`);
  return created.body;
}

/** An SDK client signing as `merchant`; services the stack does not run are unreachable. */
export function merchantClient(stack: MerchantStack, merchant: MerchantObject): PaynetClient {
  return new PaynetClient({
    apiKey: merchant.api_key as string,
    apiSecret: merchant.api_secret as string,
    urls: {
      merchants: stack.urls.merchants ?? unreachable_url,
      payments: stack.urls.payments ?? unreachable_url,
      push: stack.urls.push ?? unreachable_url,
    },
  });
}

/** Onboards a merchant as the operator and answers an SDK client signing as it, with the merchant's id. */
export async function createMerchantClient(stack: MerchantStack, merchant: NewMerchant): Promise<PaynetClient & { id: string }> {
  const created = await onboardMerchant(stack, merchant);
  return Object.assign(merchantClient(stack, created), { id: created.id });
}
