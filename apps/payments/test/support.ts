import type { AccountObject, BalanceObject, PaymentIntentObject, PlatformEvent } from '@paynet/contracts';
import type { PaynetClient } from '@paynet/sdk';
import { adminFetch, createHolder, createMerchantClient, type FetchResult, type InProcessStack, jsonFetch, startInProcess } from '@paynet/testing';
import pg from 'pg';
import { AppModule } from '../src/app.module.js';
import { payments_config_schema } from '../src/config.js';

/** Shared by the capture and refund specs: payments in process, accounts and merchants beside it, and what a user checks. */
export interface PaymentsWorld {
  stack: InProcessStack;
  /** Reads what payments published (its outbox) and holds locks in accounts' tables, as a fault. */
  database: pg.Pool;
  stop(): Promise<void>;
}

export type Shop = PaynetClient & { id: string };

/** payments' NATS timeout in these specs: short, so a blocked call to accounts times out quickly; long enough for unblocked calls on a busy machine. */
export const nats_request_timeout_ms = 1_500;

/** Starts the world before the spec's tests and stops it after them; its fields are set once beforeAll has run. */
export function usePayments(env: Record<string, string>): PaymentsWorld {
  const world = {} as PaymentsWorld;
  beforeAll(async () => {
    Object.assign(world, await startPayments(env));
  });
  afterAll(async () => {
    await world.stop?.();
  });
  return world;
}

async function startPayments(env: Record<string, string>): Promise<PaymentsWorld> {
  const stack = await startInProcess([{ service: 'payments', schema: payments_config_schema, module: AppModule.forConfig, env }], {
    neighbours: ['accounts', 'merchants'],
  });
  const database = new pg.Pool({ connectionString: stack.databaseUrl, max: 4 });
  return {
    stack,
    database,
    stop: async () => {
      await database.end();
      await stack.stop();
    },
  };
}

/** A merchant made by the operator, with an SDK client signing as it (payments at `payments_url`, default the stack's). */
export function merchant(stack: InProcessStack, fee_bps = 0, currency = 'USD', payments_url = stack.urls.payments): Promise<Shop> {
  return createMerchantClient({ adminToken: stack.adminToken, urls: { ...stack.urls, payments: payments_url } }, { name: 'Shop', currency, fee_bps });
}

/** A wallet made by the operator, funded by a deposit when `amount` > 0. */
export function holder(stack: InProcessStack, amount: number, currency = 'USD'): Promise<AccountObject> {
  return createHolder(stack, { amount, currency });
}

export function pay(stack: InProcessStack, intent_id: string, payer: AccountObject, key: string): Promise<FetchResult<PaymentIntentObject>> {
  return payIntent(stack.urls.payments as string, intent_id, payer, key);
}

/** POST .../pay as the holder, to the payments replica at `payments_url`, from `account` (default the holder's own). */
export function payIntent(payments_url: string, intent_id: string, payer: AccountObject, key: string, account = payer.id): Promise<FetchResult<PaymentIntentObject>> {
  return jsonFetch<PaymentIntentObject>(`${payments_url}/v1/payment-intents/${intent_id}/pay`, {
    method: 'POST',
    headers: { authorization: `Bearer ${payer.token}`, 'idempotency-key': key },
    body: { account },
  });
}

/** The holder's balance, as the holder reads it. */
export async function balance(stack: InProcessStack, account: AccountObject): Promise<BalanceObject> {
  const answer = await jsonFetch<BalanceObject>(`${stack.urls.accounts}/v1/accounts/${account.id}/balance`, { headers: { authorization: `Bearer ${account.token}` } });
  expect(answer.status).toBe(200);
  return answer.body;
}

export async function availableBalance(stack: InProcessStack, account: AccountObject): Promise<number> {
  return (await balance(stack, account)).available;
}

/** The platform's fee account, as the operator reads it. */
export async function feeBalance(stack: InProcessStack, currency = 'USD'): Promise<BalanceObject> {
  const answer = await adminFetch<BalanceObject>(stack, 'accounts', 'GET', `/v1/accounts/acct_fees${currency}/balance`);
  expect(answer.status).toBe(200);
  return answer.body;
}

export async function expectLedgerVerifies(stack: InProcessStack): Promise<void> {
  const answer = await adminFetch<{ ok: boolean; problems: unknown[] }>(stack, 'accounts', 'GET', '/v1/ledger/verify');
  expect(answer.body).toMatchObject({ ok: true, problems: [] });
}

/** Every event payments wrote about one object (intent or refund), in order. */
export async function eventsAbout(world: PaymentsWorld, object_id: string): Promise<PlatformEvent<{ id: string } & Record<string, unknown>>[]> {
  const rows: { payload: string }[] = (
    await world.database.query(`SELECT payload FROM payments.outbox WHERE payload::jsonb #>> '{data,object,id}' = $1 ORDER BY seq`, [object_id])
  ).rows;
  return rows.map((row) => JSON.parse(row.payload));
}

/**
 * A fault: holds the row lock of an account's balance in accounts, so every
 * command touching that account waits, and payments' call times out with its
 * outcome unknown. Released, the waiting commands are applied.
 */
export async function blockAccount(world: PaymentsWorld, account_id: string): Promise<() => Promise<void>> {
  const client = await world.database.connect();
  await client.query('BEGIN');
  await client.query('SELECT 1 FROM accounts.balances WHERE account_id = $1 FOR UPDATE', [account_id]);
  return async () => {
    await client.query('COMMIT');
    client.release();
  };
}
