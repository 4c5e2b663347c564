import type { PaymentIntentObject, StatementLineObject } from '@paynet/contracts';
import { describeOutcome as describe, isSuccess, successBody } from './calls.js';
import { type History, type OrderRecord, totalDeposits } from './history.js';
import type { FinalState } from './observe.js';

/**
 * The checks of a run, pure: the clients' history against the platform's
 * final state. Each answers the anomalies it finds, one line each, naming
 * the objects involved; an empty list is a pass.
 */
export function checkRun(history: History, state: FinalState): string[] {
  const intents = intentsById(state);
  return [
    ...checkLedger(state),
    ...checkConservation(history, state),
    ...checkNoNegative(state),
    ...checkCreations(history, state),
    ...history.orders.flatMap((order) => checkOrder(order, order.intent_id ? intents.get(order.intent_id) : undefined, state)),
    ...checkHolders(history, state, intents),
    ...checkMerchants(history, state),
    ...checkFees(history, state),
    ...checkWebhooks(state, intents),
  ];
}

/** The fee a merchant pays on `amount`: fee_bps basis points, rounded down (API.md, merchants). */
export function feeOf(amount: number, fee_bps: number): number {
  return Math.floor((amount * fee_bps) / 10_000);
}

function intentsById(state: FinalState): Map<string, PaymentIntentObject> {
  return new Map([...state.merchants.values()].flatMap((merchant) => merchant.intents.map((intent) => [intent.id, intent] as const)));
}

function checkLedger(state: FinalState): string[] {
  if (state.verify.ok) return [];
  return [`ledger: GET /v1/ledger/verify is not ok: ${state.verify.problems.slice(0, 5).join('; ') || 'no problem listed'}`];
}

function checkConservation(history: History, state: FinalState): string[] {
  const holders = sum([...state.holders.values()].map((holder) => holder.balance.posted));
  const merchants = sum([...state.merchants.values()].map((merchant) => merchant.balance.posted));
  const deposits = totalDeposits(history);
  const total = holders + merchants + state.fees.posted;
  if (total === deposits) return [];
  return [`money: holders ${holders} + merchants ${merchants} + fees ${state.fees.posted} = ${total}, but ${deposits} was deposited`];
}

function checkNoNegative(state: FinalState): string[] {
  const balances = [
    ...[...state.holders].map(([id, holder]) => [id, holder.balance] as const),
    ...[...state.merchants].map(([id, merchant]) => [id, merchant.balance] as const),
    ['the fee account', state.fees] as const,
  ];
  return balances
    .filter(([, balance]) => balance.posted < 0 || balance.available < 0)
    .map(([id, balance]) => `balance: ${id} is below zero (posted ${balance.posted}, available ${balance.available})`);
}

/** Each creation made at most one intent, and one exactly when it was answered 201. */
function checkCreations(history: History, state: FinalState): string[] {
  const anomalies: string[] = [];
  const orders = new Map(history.orders.map((order) => [order.reference, order]));
  for (const [merchant_id, merchant] of state.merchants) {
    const by_reference = groupBy(merchant.intents, (intent) => intent.reference);
    for (const [reference, intents] of by_reference) {
      const order = orders.get(reference);
      if (!order) anomalies.push(`create: ${merchant_id} has intent ${intents[0]?.id} (reference ${reference}) that no client created`);
      else if (intents.length > 1) anomalies.push(`create: key ${order.create.key} (${order.create.sends} sends) made ${intents.length} intents: ${intents.map((intent) => intent.id).join(', ')}`);
    }
  }
  for (const order of history.orders) {
    const made = state.merchants.get(order.merchant)?.intents.filter((intent) => intent.reference === order.reference) ?? [];
    if (isSuccess(order.create.outcome) && made.length === 0) anomalies.push(`create: key ${order.create.key} was answered ${describe(order.create.outcome)} (${order.intent_id}) but the merchant has no such intent`);
    if (order.create.outcome.kind === 'answered' && !isSuccess(order.create.outcome)) anomalies.push(`create: key ${order.create.key} was answered ${describe(order.create.outcome)}`);
  }
  return anomalies;
}

const pay_refusals = new Set(['402 insufficient_funds', '409 payment_intent_unexpected_state']);
const refund_refusals = new Set(['402 insufficient_funds', '400 amount_too_large']);

/** One order: its intent's final status, its pays and refunds against the payers' statements. */
function checkOrder(order: OrderRecord, intent: PaymentIntentObject | undefined, state: FinalState): string[] {
  if (!intent) return [];
  const anomalies: string[] = [];
  const lines = [...state.holders].flatMap(([holder, { lines }]) => lines.filter((line) => line.payment_intent === intent.id).map((line) => ({ holder, line })));
  const debits = lines.filter(({ line }) => line.amount < 0);
  const credits = lines.filter(({ line }) => line.amount > 0);
  const succeeded = intent.status === 'succeeded';
  if (intent.status === 'processing') anomalies.push(`${intent.id}: still processing after the run settled`);
  if (debits.length !== (succeeded ? 1 : 0)) {
    anomalies.push(`${intent.id}: ${intent.status} but debited ${debits.length} times (${debits.map(({ holder, line }) => `${holder} ${line.amount}`).join(', ') || 'never'})`);
  }
  for (const { holder, line } of debits) {
    if (line.amount !== -intent.amount || holder !== intent.payer_account) anomalies.push(`${intent.id}: ${holder} debited ${line.amount} for an intent of ${intent.amount} paid by ${intent.payer_account}`);
  }
  if (intent.amount_received !== (succeeded ? intent.amount : 0)) anomalies.push(`${intent.id}: ${intent.status} with amount_received ${intent.amount_received} of ${intent.amount}`);
  for (const attempt of order.pays) {
    const { outcome } = attempt;
    const answered = successBody<PaymentIntentObject>(outcome);
    if (answered && !succeeded) anomalies.push(`${intent.id}: pay key ${attempt.key} (${attempt.holder}) was answered ${describe(outcome)} but the intent reads ${intent.status}`);
    if (answered && answered.status !== 'succeeded') anomalies.push(`${intent.id}: pay key ${attempt.key} was answered ${describe(outcome)} with status ${answered.status}`);
    if (outcome.kind === 'answered' && !isSuccess(outcome) && !pay_refusals.has(describe(outcome))) anomalies.push(`${intent.id}: pay key ${attempt.key} was answered ${describe(outcome)}`);
    if (outcome.kind === 'answered' && outcome.status === 402 && succeeded && intent.payer_account === attempt.holder) {
      anomalies.push(`${intent.id}: pay key ${attempt.key} was refused (${describe(outcome)}) yet ${attempt.holder} paid it`);
    }
  }
  anomalies.push(...checkRefunds(order, intent, sum(credits.map(({ line }) => line.amount)), credits.length));
  return anomalies;
}

function checkRefunds(order: OrderRecord, intent: PaymentIntentObject, credited: number, credit_lines: number): string[] {
  const anomalies: string[] = [];
  const answered = order.refunds.filter((refund) => isSuccess(refund.outcome));
  const unknown = order.refunds.filter((refund) => refund.outcome.kind === 'unknown');
  const answered_amount = sum(answered.map((refund) => refund.amount));
  const unknown_amount = sum(unknown.map((refund) => refund.amount));
  if (credited !== intent.amount_refunded) anomalies.push(`${intent.id}: amount_refunded ${intent.amount_refunded} but the payer was credited ${credited}`);
  if (intent.amount_refunded > intent.amount_received) anomalies.push(`${intent.id}: refunded ${intent.amount_refunded} of ${intent.amount_received} received`);
  if (intent.amount_refunded < answered_amount || intent.amount_refunded > answered_amount + unknown_amount) {
    anomalies.push(`${intent.id}: amount_refunded ${intent.amount_refunded}, but refunds answered 201 total ${answered_amount} (and ${unknown_amount} of unknown outcome)`);
  }
  if (credit_lines < answered.length || credit_lines > answered.length + unknown.length) {
    anomalies.push(`${intent.id}: ${credit_lines} refund credits for ${answered.length} refunds answered 201 (and ${unknown.length} of unknown outcome)`);
  }
  const ids = answered.map((refund) => successBody<{ id?: string }>(refund.outcome)?.id);
  if (new Set(ids).size !== ids.length) anomalies.push(`${intent.id}: two refund keys were answered with the same refund (${ids.join(', ')})`);
  for (const refund of order.refunds) {
    if (refund.outcome.kind === 'answered' && !isSuccess(refund.outcome) && !refund_refusals.has(describe(refund.outcome))) {
      anomalies.push(`${intent.id}: refund key ${refund.key} was answered ${describe(refund.outcome)}`);
    }
  }
  return anomalies;
}

/** A holder's balance is its deposit, less what it paid, plus what was refunded, and its statement says so. */
function checkHolders(history: History, state: FinalState, intents: Map<string, PaymentIntentObject>): string[] {
  const anomalies: string[] = [];
  for (const holder of history.holders) {
    const observed = state.holders.get(holder.id);
    if (!observed) continue;
    const { balance, lines } = observed;
    const paid = [...intents.values()].filter((intent) => intent.status === 'succeeded' && intent.payer_account === holder.id);
    const expected = holder.deposit - sum(paid.map((intent) => intent.amount)) + sum(paid.map((intent) => intent.amount_refunded));
    if (balance.posted !== expected) anomalies.push(`${holder.id}: posted ${balance.posted}, but its deposit less its succeeded payments plus their refunds is ${expected}`);
    if (balance.posted !== sum(lines.map((line) => line.amount))) anomalies.push(`${holder.id}: posted ${balance.posted}, but its statement lines add up to ${sum(lines.map((line) => line.amount))}`);
    if (lines[0] && lines[0].balance_after !== balance.posted) anomalies.push(`${holder.id}: its latest statement line says ${lines[0].balance_after} after, the balance ${balance.posted}`);
    if (balance.pending !== 0) anomalies.push(`${holder.id}: ${balance.pending} pending with no hold ever placed`);
    for (const line of lines) {
      if (line.payment_intent !== undefined && !intents.has(line.payment_intent)) anomalies.push(`${holder.id}: statement line ${line.id} (${line.amount}) names ${line.payment_intent}, no intent of the run`);
    }
    const deposits = lines.filter((line: StatementLineObject) => line.payment_intent === undefined);
    if (deposits.length !== 1 || deposits[0]?.amount !== holder.deposit) anomalies.push(`${holder.id}: ${deposits.length} lines without an intent (one deposit of ${holder.deposit} expected)`);
  }
  return anomalies;
}

/** A merchant holds what its succeeded intents brought, less fees and refunds. */
function checkMerchants(history: History, state: FinalState): string[] {
  const anomalies: string[] = [];
  for (const merchant of history.merchants) {
    const observed = state.merchants.get(merchant.id);
    if (!observed) continue;
    const succeeded = observed.intents.filter((intent) => intent.status === 'succeeded');
    const expected = sum(succeeded.map((intent) => intent.amount_received - feeOf(intent.amount_received, merchant.fee_bps) - intent.amount_refunded));
    if (observed.balance.posted !== expected) anomalies.push(`${merchant.id}: posted ${observed.balance.posted}, but its succeeded intents less fees and refunds come to ${expected}`);
  }
  return anomalies;
}

function checkFees(history: History, state: FinalState): string[] {
  const fee_bps = new Map(history.merchants.map((merchant) => [merchant.id, merchant.fee_bps]));
  const expected = sum(
    [...state.merchants].flatMap(([id, merchant]) =>
      merchant.intents.filter((intent) => intent.status === 'succeeded').map((intent) => feeOf(intent.amount_received, fee_bps.get(id) ?? 0)),
    ),
  );
  if (state.fees.posted === expected) return [];
  return [`fees: the fee account holds ${state.fees.posted}, but the succeeded payments' fees come to ${expected}`];
}

/** Every webhook signed right; every succeeded payment's payment_intent.succeeded sent, as one event. */
function checkWebhooks(state: FinalState, intents: Map<string, PaymentIntentObject>): string[] {
  const anomalies = state.webhooks.filter((event) => event.problem !== undefined).map((event) => `webhook ${event.event_id || '(no webhook-id)'}: ${event.problem}`);
  const succeeded_events = groupBy(
    state.webhooks.filter((event) => event.type === 'payment_intent.succeeded' && event.problem === undefined),
    (event) => event.intent_id ?? '',
  );
  for (const intent of intents.values()) {
    const events = new Set((succeeded_events.get(intent.id) ?? []).map((event) => event.event_id));
    if (intent.status === 'succeeded' && events.size === 0) anomalies.push(`${intent.id}: succeeded, but its payment_intent.succeeded webhook never arrived`);
    if (intent.status === 'succeeded' && events.size > 1) anomalies.push(`${intent.id}: ${events.size} different payment_intent.succeeded events (${[...events].join(', ')})`);
    if (intent.status !== 'succeeded' && events.size > 0) anomalies.push(`${intent.id}: ${intent.status}, yet a payment_intent.succeeded webhook arrived (${[...events].join(', ')})`);
  }
  return anomalies;
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const name = key(item);
    groups.set(name, [...(groups.get(name) ?? []), item]);
  }
  return groups;
}
