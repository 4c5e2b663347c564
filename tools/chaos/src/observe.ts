import type { BalanceObject, ListResponse, PaymentIntentObject, PlatformEvent, StatementLineObject } from '@paynet/contracts';
import { sleep } from '@paynet/devstack';
import { verifyWebhook } from '@paynet/sdk';
import { adminFetch, type Stack, type WebhookReceiver } from '@paynet/testing';
import { type Answer, type CallCounters, describeOutcome, isSuccess, sendIdempotent, successBody } from './calls.js';
import type { History } from './history.js';
import { chaos_currency, merchantClient, type World } from './workload.js';

/** The platform's state after the run, read through the public API only. */
export interface FinalState {
  verify: { ok: boolean; entries_checked: number; problems: string[] };
  fees: BalanceObject;
  holders: Map<string, { balance: BalanceObject; lines: StatementLineObject[] }>;
  merchants: Map<string, { balance: BalanceObject; intents: PaymentIntentObject[] }>;
  webhooks: ReceivedEvent[];
}

/** One webhook request as the receiver got it. */
export interface ReceivedEvent {
  event_id: string;
  type: string;
  /** The payment intent it is about (its data object's id, or a refund's payment_intent). */
  intent_id: string | undefined;
  /** Why its signature or body did not check out; undefined when it did. */
  problem: string | undefined;
}

const page_limit = 100;
const pages_max = 10_000;
const settle_poll_ms = 1_000;
// The fee account of a currency has a fixed id (accounts' first migration).
const fee_account_id = `acct_fees${chaos_currency}`;

/** Reads of the final state are retried like the workload's requests, but not counted with them. */
const read_counters: CallCounters = { requests: 0, errors: 0, retried: 0, error_kinds: {} };

async function read<T>(request: () => Promise<Answer>, what: string): Promise<T> {
  const { outcome } = await sendIdempotent(request, read_counters);
  if (!isSuccess(outcome)) throw new Error(`reading ${what}: ${describeOutcome(outcome)}`);
  return successBody<T>(outcome) as T;
}

/** Every item of a list endpoint, newest first, following `starting_after` (bounded). */
async function readAll<T extends { id: string }>(page: (query: string) => Promise<Answer>, what: string): Promise<T[]> {
  const items: T[] = [];
  for (let count = 0; count < pages_max; count++) {
    const after = items.length > 0 ? `&starting_after=${(items[items.length - 1] as T).id}` : '';
    const list = await read<ListResponse<T>>(() => page(`?limit=${page_limit}${after}`), what);
    items.push(...list.data);
    if (!list.has_more) return items;
  }
  throw new Error(`reading ${what}: more than ${pages_max} pages`);
}

export async function merchantIntents(world: World, merchant_id: string, status?: string): Promise<PaymentIntentObject[]> {
  const client = merchantClient(world, merchant_id);
  const filter = status ? `&status=${status}` : '';
  return readAll(async (query) => {
    const answer = await client.request('GET', `/v1/payment-intents${query}${filter}`);
    return { status: answer.status, body: answer.body };
  }, `${merchant_id}'s payment intents`);
}

export async function readFinalState(stack: Stack, world: World, receiver: WebhookReceiver): Promise<FinalState> {
  const admin = (path: string) => async (): Promise<Answer> => {
    const answer = await adminFetch(stack, 'accounts', 'GET', path, undefined, { timeout_ms: 120_000 });
    return { status: answer.status, body: answer.body };
  };
  const verify = await read<FinalState['verify']>(admin('/v1/ledger/verify'), 'the ledger verification');
  const fees = await read<BalanceObject>(admin(`/v1/accounts/${fee_account_id}/balance`), 'the fee account balance');
  const holders: FinalState['holders'] = new Map();
  for (const holder of world.holders) {
    const own = (path: string) => async (): Promise<Answer> => {
      const answer = await holder.fetch('GET', path);
      return { status: answer.status, body: answer.body };
    };
    const balance = await read<BalanceObject>(own(`/v1/accounts/${holder.id}/balance`), `${holder.id}'s balance`);
    const lines = await readAll<StatementLineObject>((query) => own(`/v1/accounts/${holder.id}/transactions${query}`)(), `${holder.id}'s statement`);
    holders.set(holder.id, { balance, lines });
  }
  const merchants: FinalState['merchants'] = new Map();
  for (const merchant of world.history.merchants) {
    const client = merchantClient(world, merchant.id);
    const balance = await read<BalanceObject>(async () => {
      const answer = await client.request('GET', `/v1/merchants/${merchant.id}/balance`);
      return { status: answer.status, body: answer.body };
    }, `${merchant.id}'s balance`);
    merchants.set(merchant.id, { balance, intents: await merchantIntents(world, merchant.id) });
  }
  return { verify, fees, holders, merchants, webhooks: receivedEvents(world.history, receiver) };
}

/** Each webhook the receiver got, its signature checked with its merchant's secret. */
export function receivedEvents(history: History, receiver: Pick<WebhookReceiver, 'received'>): ReceivedEvent[] {
  const secrets = new Map(history.merchants.map((merchant) => [merchant.id, merchant.webhook_secret]));
  return receiver.received.map((request) => {
    const event_id = String(request.headers['webhook-id'] ?? '');
    let event: PlatformEvent;
    try {
      event = JSON.parse(request.body) as PlatformEvent;
    } catch {
      return { event_id, type: '', intent_id: undefined, problem: 'its body is not JSON' };
    }
    const secret = event.merchant ? secrets.get(event.merchant) : undefined;
    let problem: string | undefined;
    try {
      if (!secret) throw new Error(`it names merchant ${event.merchant}, not one of the run's`);
      // Judged by the clock when it arrived: the checks run long after the first deliveries.
      verifyWebhook(secret, request.headers, request.body, { nowSeconds: Math.floor(request.at_ms / 1000) });
      if (event.id !== event_id) problem = `its webhook-id header ${event_id} differs from the event's id ${event.id}`;
    } catch (error) {
      problem = `refused: ${error instanceof Error ? error.message : String(error)}`;
    }
    return { event_id, type: event.type, intent_id: intentOf(event), problem };
  });
}

function intentOf(event: PlatformEvent): string | undefined {
  const object = (event.data as { object?: { object?: string; id?: string; payment_intent?: string } }).object;
  if (object?.object === 'payment_intent') return object.id;
  if (object?.object === 'refund') return object.payment_intent;
  return undefined;
}

/**
 * Polls until nothing is left `processing` (the reconciler has settled every
 * lost ledger answer) and every succeeded payment's webhook has arrived, for
 * at most timeout_ms. Answers what is still unsettled, if anything.
 */
export async function waitSettled(world: World, receiver: WebhookReceiver, timeout_ms: number): Promise<string[]> {
  const deadline = Date.now() + timeout_ms;
  let unsettled: string[] = [];
  while (Date.now() < deadline) {
    unsettled = [];
    for (const merchant of world.history.merchants) {
      const processing = await merchantIntents(world, merchant.id, 'processing');
      unsettled.push(...processing.map((intent) => `${intent.id} is processing`));
    }
    if (unsettled.length === 0) unsettled = await missingWebhooks(world, receiver);
    if (unsettled.length === 0) return [];
    await sleep(settle_poll_ms);
  }
  return unsettled;
}

async function missingWebhooks(world: World, receiver: WebhookReceiver): Promise<string[]> {
  const delivered = new Set(receivedEvents(world.history, receiver).filter((event) => event.type === 'payment_intent.succeeded').map((event) => event.intent_id));
  const missing: string[] = [];
  for (const merchant of world.history.merchants) {
    const succeeded = await merchantIntents(world, merchant.id, 'succeeded');
    missing.push(...succeeded.filter((intent) => !delivered.has(intent.id)).map((intent) => `${intent.id}'s payment_intent.succeeded webhook has not arrived`));
  }
  return missing;
}
