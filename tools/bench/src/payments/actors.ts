/**
 * The merchants and holders of a run, made through the public API as the
 * operator, and one payment exactly as they make it: the merchant signs a
 * create with an Idempotency-Key, the holder pays it with another.
 */
import { signRequest } from '@paynet/signatures';
import { randomUUID } from 'node:crypto';
import type { Outcome } from '../load.js';
import type { HttpClient } from './http.js';

export const bench_currency = 'USD';
/** Each holder's deposit: never the reason a payment fails, however long the run. */
export const holder_funds_minor = 1_000_000_000_000;
export const payment_amount_minor_max = 1_000;
const create_path = '/v1/payment-intents';

export interface Clients {
  accounts: HttpClient;
  merchants: HttpClient;
  payments: HttpClient;
}

export interface BenchMerchant {
  id: string;
  api_key: string;
  api_secret: string;
}

export interface BenchHolder {
  id: string;
  /** `Bearer <token>`, ready to send. */
  authorization: string;
}

export interface PaymentAnswer {
  outcome: Outcome;
  /** The intent, once created. */
  intent?: string;
}

function operator(admin_token: string): Record<string, string> {
  return { authorization: `Bearer ${admin_token}` };
}

export async function createMerchants(clients: Clients, admin_token: string, count: number, webhook_url: string): Promise<BenchMerchant[]> {
  const merchants: BenchMerchant[] = [];
  for (let index = 0; index < count; index++) {
    const body = { name: `Bench shop ${index}`, currency: bench_currency, webhook_url };
    const created = await clients.merchants.json<BenchMerchant>('POST', '/v1/merchants', operator(admin_token), body, 201);
    merchants.push({ id: created.id, api_key: created.api_key, api_secret: created.api_secret });
  }
  return merchants;
}

/** Funded wallets, made a few at a time. */
export async function createHolders(clients: Clients, admin_token: string, count: number, run_id: string): Promise<BenchHolder[]> {
  const holders: BenchHolder[] = [];
  for (let index = 0; index < count; index++) {
    const account = await clients.accounts.json<{ id: string; token: string }>('POST', '/v1/accounts', operator(admin_token), { currency: bench_currency, owner_name: `Bench holder ${index}` }, 201);
    const headers = { ...operator(admin_token), 'idempotency-key': `bench-${run_id}-fund-${account.id}` };
    await clients.accounts.json('POST', `/v1/accounts/${account.id}/deposits`, headers, { amount: holder_funds_minor }, 201);
    holders.push({ id: account.id, authorization: `Bearer ${account.token}` });
  }
  return holders;
}

/** The four headers of a signed request (API.md, Authentication). */
export function signedHeaders(merchant: BenchMerchant, method: string, path: string, body: string | undefined, now_ms: number = Date.now()): Record<string, string> {
  const timestamp = String(Math.floor(now_ms / 1000));
  const nonce = randomUUID();
  const signature = signRequest({ secret: merchant.api_secret, timestamp, nonce, method, path_with_query: path, body });
  return { 'x-api-key': merchant.api_key, 'x-timestamp': timestamp, 'x-nonce': nonce, 'x-signature': signature };
}

export async function streamToken(clients: Clients, merchant: BenchMerchant): Promise<string> {
  const path = `/v1/merchants/${merchant.id}/stream-tokens`;
  const answer = await clients.merchants.json<{ token: string }>('POST', path, () => signedHeaders(merchant, 'POST', path, undefined), undefined, 201);
  return answer.token;
}

/**
 * One payment: create (signed, idempotent), then pay (holder, idempotent).
 * `onPaid` is told the moment the pay's answer arrived, for the delivery
 * clocks. Never throws: every failure is an outcome.
 */
export async function makePayment(
  clients: Clients,
  merchant: BenchMerchant,
  holder: BenchHolder,
  amount: number,
  reference: string,
  onPaid: (intent: string, answered_ms: number) => void,
): Promise<PaymentAnswer> {
  const create_body = JSON.stringify({ amount, currency: bench_currency, reference });
  const create_key = randomUUID();
  const created = await attempt(() =>
    clients.payments.send('POST', create_path, () => ({ ...signedHeaders(merchant, 'POST', create_path, create_body), 'idempotency-key': create_key }), create_body),
  );
  if ('outcome' in created) return { outcome: { ...created.outcome, kind: `create: ${created.outcome.kind}` } };
  if (created.status !== 201) return { outcome: failure('create', created.status, created.text) };
  const intent = (JSON.parse(created.text) as { id: string }).id;
  const pay_path = `/v1/payment-intents/${intent}/pay`;
  const paid = await attempt(() =>
    clients.payments.send('POST', pay_path, { authorization: holder.authorization, 'idempotency-key': randomUUID() }, JSON.stringify({ account: holder.id })),
  );
  if ('outcome' in paid) return { intent, outcome: { ...paid.outcome, kind: `pay: ${paid.outcome.kind}` } };
  if (paid.status !== 200) return { intent, outcome: failure('pay', paid.status, paid.text) };
  onPaid(intent, performance.now());
  const status = (JSON.parse(paid.text) as { status?: string }).status;
  if (status !== 'succeeded') return { intent, outcome: { ok: false, kind: `pay: answered ${status}`, applied: 'maybe' } };
  return { intent, outcome: { ok: true } };
}

async function attempt<T>(send: () => Promise<T>): Promise<T | { outcome: Outcome & { ok: false } }> {
  try {
    return await send();
  } catch (error) {
    return { outcome: { ok: false, kind: error instanceof Error ? error.message.slice(0, 80) : 'error', applied: 'maybe' } };
  }
}

/** A non-2xx answer as a failure kind: `pay 402 insufficient_funds`. A 5xx may have been applied. */
export function failure(step: string, status: number, text: string): Outcome & { ok: false } {
  let code = '';
  try {
    code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? '';
  } catch {
    // Not JSON: the status says enough.
  }
  return { ok: false, kind: `${step} ${status}${code ? ` ${code}` : ''}`, applied: status >= 500 ? 'maybe' : 'no' };
}
