import { signRequest } from '@paynet/signatures';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';

const holder_schema = z.object({ id: z.string().startsWith('acct_'), token: z.string().min(1) });
const merchant_schema = z.object({
  id: z.string().startsWith('mer_'),
  api_key: z.string().startsWith('mk_'),
  api_secret: z.string().min(1),
  webhook_secret: z.string().min(1),
});
const demo_file_schema = z.object({ holder: holder_schema.optional(), merchant: merchant_schema.optional() });

export type DemoHolder = z.infer<typeof holder_schema>;
export type DemoMerchant = z.infer<typeof merchant_schema>;
export interface DemoData {
  holder: DemoHolder;
  merchant: DemoMerchant;
  /** Whether each was made now or reused from the saved file. */
  reused: { holder: boolean; merchant: boolean };
}

export interface DemoTarget {
  accountsUrl: string;
  merchantsUrl: string;
  adminToken: string;
  /** .data/demo.json */
  file: string;
  /** Bound on each HTTP call. */
  timeout_ms?: number;
}

export const demo_deposit_amount_minor = 100_000;
const demo_request_timeout_ms = 15_000;

/** The demo data could not be made; the message says which call failed and how. */
export class DemoDataError extends Error {}

/**
 * A funded demo holder and a demo merchant, through the public API as the
 * operator. Saved credentials are reused when the services still know them
 * (the data folder was kept); otherwise they are made again.
 */
export async function ensureDemoData(target: DemoTarget): Promise<DemoData> {
  const saved = readDemoFile(target.file);
  const holder_kept = saved.holder !== undefined && (await holderExists(target, saved.holder.id));
  const holder = holder_kept && saved.holder ? saved.holder : await createHolder(target);
  writeDemoFile(target.file, { ...saved, holder });
  const merchant_kept = saved.merchant !== undefined && (await merchantWorks(target, saved.merchant));
  const merchant = merchant_kept && saved.merchant ? saved.merchant : await createMerchant(target);
  writeDemoFile(target.file, { holder, merchant });
  return { holder, merchant, reused: { holder: holder_kept, merchant: merchant_kept } };
}

export function readDemoFile(file: string): z.infer<typeof demo_file_schema> {
  if (!existsSync(file)) return {};
  try {
    const parsed = demo_file_schema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    return parsed.success ? parsed.data : {};
  } catch {
    return {}; // unreadable: made again
  }
}

function writeDemoFile(file: string, data: z.infer<typeof demo_file_schema>): void {
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
}

async function createHolder(target: DemoTarget): Promise<DemoHolder> {
  const created = await call(target, target.accountsUrl, 'POST', '/v1/accounts', operator(target), { currency: 'USD', owner_name: 'Demo Holder' });
  const holder = expectBody(created, [201], holder_schema, 'POST accounts /v1/accounts');
  // A fixed key: a start that died after this call cannot fund the holder twice.
  const deposit_headers = { ...operator(target), 'idempotency-key': `demo-deposit-${holder.id}` };
  const deposit = await call(target, target.accountsUrl, 'POST', `/v1/accounts/${holder.id}/deposits`, deposit_headers, { amount: demo_deposit_amount_minor });
  expectStatus(deposit, [200, 201], `POST accounts /v1/accounts/${holder.id}/deposits`);
  return holder;
}

async function createMerchant(target: DemoTarget): Promise<DemoMerchant> {
  const body = { name: 'Demo Coffee', currency: 'USD', fee_bps: 100 };
  const created = await call(target, target.merchantsUrl, 'POST', '/v1/merchants', operator(target), body);
  return expectBody(created, [201], merchant_schema, 'POST merchants /v1/merchants');
}

async function holderExists(target: DemoTarget, id: string): Promise<boolean> {
  const answer = await call(target, target.accountsUrl, 'GET', `/v1/accounts/${encodeURIComponent(id)}`, operator(target));
  if (answer.status === 404) return false;
  expectStatus(answer, [200], `GET accounts /v1/accounts/${id}`);
  return true;
}

/** Signed as the merchant: a 401 or 404 means its key or the merchant is gone (a new database). */
async function merchantWorks(target: DemoTarget, merchant: DemoMerchant): Promise<boolean> {
  const path = `/v1/merchants/${encodeURIComponent(merchant.id)}`;
  const answer = await call(target, target.merchantsUrl, 'GET', path, signedAs(merchant, 'GET', path));
  if (answer.status === 401 || answer.status === 404) return false;
  expectStatus(answer, [200], `GET merchants ${path}`);
  return true;
}

/** The demo merchant's dashboard on push, with a fresh stream token (signed as the merchant). */
export async function demoDashboardUrl(target: DemoTarget, pushUrl: string, merchant: DemoMerchant): Promise<string> {
  const path = `/v1/merchants/${encodeURIComponent(merchant.id)}/stream-tokens`;
  const answer = await call(target, target.merchantsUrl, 'POST', path, signedAs(merchant, 'POST', path));
  expectStatus(answer, [200, 201], `POST merchants ${path}`);
  const token = (answer.body as { token?: unknown }).token;
  if (typeof token !== 'string') throw new DemoDataError(`POST merchants ${path} answered no token`);
  return `${pushUrl}/dashboard?token=${encodeURIComponent(token)}`;
}

/** Headers of a request signed with the merchant's API secret (empty body). */
function signedAs(merchant: DemoMerchant, method: string, path: string): Record<string, string> {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = randomUUID();
  const signature = signRequest({ secret: merchant.api_secret, timestamp, nonce, method, path_with_query: path });
  return { 'x-api-key': merchant.api_key, 'x-timestamp': timestamp, 'x-nonce': nonce, 'x-signature': signature };
}

function operator(target: DemoTarget): Record<string, string> {
  return { authorization: `Bearer ${target.adminToken}` };
}

interface Answer {
  status: number;
  body: unknown;
}

async function call(target: DemoTarget, base: string, method: string, path: string, headers: Record<string, string>, body?: object): Promise<Answer> {
  try {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(target.timeout_ms ?? demo_request_timeout_ms),
    });
    const text = await response.text();
    return { status: response.status, body: parseJson(text) };
  } catch (error) {
    throw new DemoDataError(`${method} ${base}${path} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function expectStatus(answer: Answer, statuses: readonly number[], what: string): void {
  if (statuses.includes(answer.status)) return;
  throw new DemoDataError(`${what} answered ${answer.status}${describeError(answer.body)}`);
}

function expectBody<S extends z.ZodType>(answer: Answer, statuses: readonly number[], schema: S, what: string): z.infer<S> {
  expectStatus(answer, statuses, what);
  const parsed = schema.safeParse(answer.body);
  if (!parsed.success) throw new DemoDataError(`${what} answered ${answer.status} without the expected fields (${parsed.error.issues[0]?.path.join('.')})`);
  return parsed.data;
}

/** The API error envelope's code and message; never the whole body (it could hold secrets). */
function describeError(body: unknown): string {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (!error) return '';
  return `: ${String(error.code ?? '')} ${String(error.message ?? '')}`.trimEnd();
}
