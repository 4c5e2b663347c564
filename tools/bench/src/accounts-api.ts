/**
 * The operator's side of accounts' public HTTP API: the bench makes and
 * funds its accounts the way an operator would, and asks the ledger to
 * verify itself at the end.
 */
import { z } from 'zod';
import { bench_currency, type BenchAccounts } from './workload.js';

// Sure to cover every transfer of a long run: 1e9 minor units per wallet against at most 100 per transfer.
export const wallet_deposit_minor = 1_000_000_000;
const setup_parallel_max = 8;
const http_timeout_ms = 30_000;
// Recomputes the whole ledger: millions of postings after a long run.
const verify_timeout_ms = 600_000;

const account_answer = z.object({ id: z.string().startsWith('acct_') });
const verify_answer = z.object({ ok: z.boolean(), entries_checked: z.coerce.number(), problems: z.array(z.string()) });
export type VerifyReport = z.infer<typeof verify_answer>;

export interface AccountsApi {
  url: string;
  admin_token: string;
}

/** `wallets` funded wallets and `credit_accounts` unfunded ones, a few requests at a time. */
export async function createBenchAccounts(api: AccountsApi, counts: { wallets: number; credit_accounts: number }, run_id: string): Promise<BenchAccounts> {
  const wallets = await mapLimited(range(counts.wallets), setup_parallel_max, async (index) => {
    const id = await createAccount(api, `Bench wallet ${index}`);
    // One key per wallet and run: a retried setup cannot fund a wallet twice.
    await call(api, 'POST', `/v1/accounts/${id}/deposits`, { amount: wallet_deposit_minor }, { 'idempotency-key': `bench-${run_id}-deposit-${id}` }, http_timeout_ms);
    return id;
  });
  const credit_accounts = await mapLimited(range(counts.credit_accounts), setup_parallel_max, (index) => createAccount(api, `Bench merchant ${index}`));
  return { wallets, credit_accounts };
}

/** GET /v1/ledger/verify: every entry balances, balances match postings, nothing below zero, money conserved. */
export async function verifyLedger(api: AccountsApi): Promise<VerifyReport> {
  return verify_answer.parse(await call(api, 'GET', '/v1/ledger/verify', undefined, {}, verify_timeout_ms));
}

async function createAccount(api: AccountsApi, owner_name: string): Promise<string> {
  const answer = await call(api, 'POST', '/v1/accounts', { currency: bench_currency, owner_name }, {}, http_timeout_ms);
  return account_answer.parse(answer).id;
}

async function call(api: AccountsApi, method: string, path: string, body: object | undefined, headers: Record<string, string>, timeout_ms: number): Promise<unknown> {
  const response = await fetch(`${api.url}${path}`, {
    method,
    headers: { accept: 'application/json', authorization: `Bearer ${api.admin_token}`, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(timeout_ms),
  });
  const text = await response.text();
  if (response.status < 200 || response.status > 299) throw new Error(`${method} ${path} answered ${response.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as unknown;
}

/** `work` over `items`, at most `limit` at once, results in order. */
export async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, index) => index);
}
