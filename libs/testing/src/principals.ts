import type { AccountObject } from '@paynet/contracts';
import type { PaynetClient } from '@paynet/sdk';
import { signRequest } from '@paynet/signatures';
import { randomUUID } from 'node:crypto';
import { adminFetch, type FetchResult, jsonFetch } from './http.js';
import { merchantClient, onboardMerchant } from './merchant-client.js';

/** What a stack must offer to make merchants and holders: the operator token and the service URLs. */
export interface PrincipalStack {
  urls: Readonly<Record<string, string>>;
  adminToken: string;
}

export interface TestMerchant {
  id: string;
  currency: string;
  client: PaynetClient;
  /** A signed request with exactly these body bytes (bad JSON, oversized bodies), answer parsed as jsonFetch does. */
  raw(method: string, path_with_query: string, body?: string, headers?: Record<string, string>): Promise<FetchResult<unknown>>;
}

export interface TestHolder extends AccountObject {
  token: string;
  /** A request with this holder's bearer token; a string body is sent as is. */
  fetch(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<FetchResult<unknown>>;
}

function serviceUrl(stack: PrincipalStack, service: string): string {
  const url = stack.urls[service];
  if (url === undefined) throw new Error(`${service} is not running in this stack`);
  return url;
}

/** A merchant made by the operator, with a signing client for merchants and payments. */
export async function createMerchant(stack: PrincipalStack, options: { currency?: string; fee_bps?: number } = {}): Promise<TestMerchant> {
  const currency = options.currency ?? 'USD';
  const created = await onboardMerchant(stack, { name: 'Shop', currency, fee_bps: options.fee_bps ?? 0 });
  const credentials = { apiKey: created.api_key as string, apiSecret: created.api_secret as string };
  const client = merchantClient(stack, created);
  const raw: TestMerchant['raw'] = (method, path_with_query, body, headers = {}) => {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = randomUUID();
    const bytes = body === undefined ? undefined : Buffer.from(body, 'utf8');
    const signature = signRequest({ secret: credentials.apiSecret, timestamp, nonce, method, path_with_query, body: bytes });
    const service = path_with_query.startsWith('/v1/merchants') || path_with_query.startsWith('/v1/webhook-endpoints') ? 'merchants' : /^\/v1\/(webhook-deliveries|events)/.test(path_with_query) ? 'push' : 'payments';
    return jsonFetch(`${serviceUrl(stack, service)}${path_with_query}`, {
      method,
      headers: { 'x-api-key': credentials.apiKey, 'x-timestamp': timestamp, 'x-nonce': nonce, 'x-signature': signature, ...headers },
      body,
    });
  };
  return { id: created.id, currency, client, raw };
}

/** A wallet made by the operator, funded with `amount` minor units by a deposit. */
export async function createHolder(stack: PrincipalStack, options: { amount?: number; currency?: string } = {}): Promise<TestHolder> {
  const created = await adminFetch<AccountObject>(stack, 'accounts', 'POST', '/v1/accounts', { currency: options.currency ?? 'USD', owner_name: 'Holder' });
  if (created.status !== 201) throw new Error(`creating an account answered ${created.status}`);
  const account = created.body;
  if ((options.amount ?? 0) > 0) {
    const deposit = await adminFetch(stack, 'accounts', 'POST', `/v1/accounts/${account.id}/deposits`, { amount: options.amount }, { idempotencyKey: `fund-${account.id}` });
    if (deposit.status !== 201) throw new Error(`funding an account answered ${deposit.status}`);
  }
  const token = account.token as string;
  const fetch: TestHolder['fetch'] = (method, path, body, headers = {}) => {
    const service = path.startsWith('/v1/payment-intents') ? 'payments' : 'accounts';
    return jsonFetch(`${serviceUrl(stack, service)}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...headers }, body });
  };
  return { ...account, token, fetch };
}

/** The holder's balance as the holder reads it. */
export async function holderBalance(holder: TestHolder): Promise<{ posted: number; pending: number; available: number }> {
  const answer = await holder.fetch('GET', `/v1/accounts/${holder.id}/balance`);
  if (answer.status !== 200) throw new Error(`reading a balance answered ${answer.status}`);
  return answer.body as { posted: number; pending: number; available: number };
}
