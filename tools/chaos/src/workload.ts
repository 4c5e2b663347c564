import type { PaymentIntentObject } from '@paynet/contracts';
import { PaynetClient } from '@paynet/sdk';
import { createHolder, onboardMerchant, type Stack, type TestHolder } from '@paynet/testing';
import { type Answer, type CallCounters, isSuccess, request_timeout_ms, sendIdempotent, type Sent, successBody } from './calls.js';
import type { History, MerchantRecord, OrderRecord, PayRecord, RefundRecord } from './history.js';
import { pick, randomInteger, type Random } from './random.js';

export const chaos_currency = 'USD';
export const holders_count = 12;
/** Each holder's deposit: a few dozen payments' worth, so some run dry and are refused (402) until refunded. */
export const holder_deposit_minor = 60_000;
export const amount_minor_min = 100;
export const amount_minor_max = 5_000;
/** Merchants and their fees; the first is the hot one, which gets hot_share of the orders. */
export const merchant_fees_bps: readonly number[] = [100, 0, 250, 30];
export const hot_share = 0.7;
/**
 * Orders paid twice at once, each request with its own key: by two holders
 * (one must win, and only once), or by one holder twice (a double tap: it
 * must be charged once, and never told its payment failed).
 */
export const race_share = 0.15;
const same_holder_race_share = 0.5;
/** Paid orders the merchant refunds: once or twice, each time up to half the amount. */
export const refund_share = 0.3;
const refunds_per_order_max = 2;

/** The holders and merchants of a run, able to make their requests. */
export interface World {
  history: History;
  holders: TestHolder[];
  clients: Map<string, PaynetClient>;
  /** Names idempotency keys and references: unique per run. */
  run_id: string;
}

/** Holders funded with a known total, and merchants whose first webhook endpoint is `webhook_url`. */
export async function setUpWorld(stack: Stack, webhook_url: string, run_id: string): Promise<World> {
  const holders: TestHolder[] = [];
  for (let index = 0; index < holders_count; index++) holders.push(await createHolder(stack, { amount: holder_deposit_minor, currency: chaos_currency }));
  const merchants: MerchantRecord[] = [];
  const clients = new Map<string, PaynetClient>();
  for (const [index, fee_bps] of merchant_fees_bps.entries()) {
    const created = await onboardMerchant(stack, { name: `Chaos shop ${index}`, currency: chaos_currency, fee_bps, webhook_url });
    merchants.push({ id: created.id, fee_bps, webhook_secret: created.webhook_secret as string, hot: index === 0 });
    clients.set(
      created.id,
      new PaynetClient({
        apiKey: created.api_key as string,
        apiSecret: created.api_secret as string,
        urls: { merchants: stack.urls.merchants, payments: stack.urls.payments, push: stack.urls.push },
        timeoutMs: request_timeout_ms,
      }),
    );
  }
  const history: History = {
    holders: holders.map((holder) => ({ id: holder.id, token: holder.token, deposit: holder_deposit_minor })),
    merchants,
    orders: [],
  };
  return { history, holders, clients, run_id };
}

export function merchantClient(world: World, merchant_id: string): PaynetClient {
  const client = world.clients.get(merchant_id);
  if (!client) throw new Error(`no client for ${merchant_id}`);
  return client;
}

/**
 * `clients` workers, each running orders one after another until `stopping()`
 * says so: a merchant creates an intent, one holder (or two racing) pays it,
 * and sometimes the merchant refunds part of it. Every request is idempotent
 * and retried with its key.
 */
export async function runClients(world: World, options: { clients: number; random: Random; counters: CallCounters; stopping: () => boolean }): Promise<void> {
  let next_order = 0;
  const worker = async () => {
    while (!options.stopping()) await runOrder(world, next_order++, options);
  };
  await Promise.all(Array.from({ length: options.clients }, worker));
}

async function runOrder(world: World, n: number, options: { random: Random; counters: CallCounters }): Promise<void> {
  const { random, counters } = options;
  const [hot, ...others] = world.history.merchants as [MerchantRecord, ...MerchantRecord[]];
  const merchant = random() < hot_share || others.length === 0 ? hot : pick(random, others);
  const amount = randomInteger(random, amount_minor_min, amount_minor_max);
  const reference = `${world.run_id}-order-${n}`;
  const client = merchantClient(world, merchant.id);
  const key = `${world.run_id}-create-${n}`;
  const order: OrderRecord = { merchant: merchant.id, reference, amount, create: { key, outcome: { kind: 'unknown', last: 'not sent yet' }, sends: 0 }, pays: [], refunds: [] };
  world.history.orders.push(order);
  const create = await sendIdempotent(() => merchantRequest(client, 'POST', '/v1/payment-intents', { amount, currency: chaos_currency, reference }, key), counters);
  order.create = { ...create, key };
  const intent_id = successBody<PaymentIntentObject>(create.outcome)?.id;
  if (intent_id === undefined) return;
  order.intent_id = intent_id;
  const payers = random() < race_share ? racingPayers(world.holders, random) : [pick(random, world.holders)];
  order.pays = await Promise.all(payers.map((holder, index) => pay(holder, intent_id, `${world.run_id}-pay-${n}-${index}`, counters)));
  if (!order.pays.some((attempt) => isSuccess(attempt.outcome)) || random() >= refund_share) return;
  const refunds = randomInteger(random, 1, refunds_per_order_max);
  for (let index = 0; index < refunds; index++) {
    const refund_amount = randomInteger(random, 1, Math.floor(amount / refunds_per_order_max));
    const refund_key = `${world.run_id}-refund-${n}-${index}`;
    const sent = await sendIdempotent(
      () => merchantRequest(client, 'POST', `/v1/payment-intents/${intent_id}/refunds`, { amount: refund_amount, reason: 'requested_by_customer' }, refund_key),
      counters,
    );
    order.refunds.push({ ...sent, key: refund_key, amount: refund_amount } satisfies RefundRecord);
  }
}

function racingPayers(holders: readonly TestHolder[], random: Random): TestHolder[] {
  const first = pick(random, holders);
  if (random() < same_holder_race_share) return [first, first];
  return [first, pick(random, holders.filter((holder) => holder.id !== first.id))];
}

async function pay(holder: TestHolder, intent_id: string, key: string, counters: CallCounters): Promise<PayRecord> {
  const sent: Sent = await sendIdempotent(async () => {
    const answer = await holder.fetch('POST', `/v1/payment-intents/${intent_id}/pay`, { account: holder.id }, { 'idempotency-key': key });
    return { status: answer.status, body: answer.body };
  }, counters);
  return { ...sent, key, holder: holder.id };
}

async function merchantRequest(client: PaynetClient, method: string, path: string, body: unknown, key: string): Promise<Answer> {
  const answer = await client.request(method, path, body, { idempotencyKey: key });
  return { status: answer.status, body: answer.body };
}
