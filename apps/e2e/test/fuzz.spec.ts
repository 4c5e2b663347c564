import type { PaymentIntentObject } from '@paynet/contracts';
import type { PaynetClient } from '@paynet/sdk';
import { adminFetch, createHolder, merchantClient, onboardMerchant, type Stack, startStack, type TestHolder } from '@paynet/testing';
import fc from 'fast-check';
import { type FuzzCase, fuzzCase, type FuzzContext } from './fuzz/cases.js';
import { readRoutes } from './fuzz/routes.js';
import { type Answer, type Credentials, send, withCredentials } from './fuzz/send.js';

/**
 * The fuzzer (issue 12.5): malformed bodies, headers, query strings and paths
 * on every route of every service, read from their /docs-json. Every answer
 * is below 500, every 4xx carries the API.md error envelope, a request with a
 * fault is refused, and nothing changes: ledger verify, balances, intents and
 * lists read the same before and after.
 *
 * `FUZZ_RUNS` sets the number of cases (a few hundred by default; the long
 * run is FUZZ_RUNS=10000); a failure prints its seed, and `FUZZ_SEED=<seed>`
 * (with FUZZ_RUNS as it was) replays it.
 */
const runs = Number(process.env['FUZZ_RUNS'] ?? 300);
const seed = process.env['FUZZ_SEED'] === undefined ? undefined : Number(process.env['FUZZ_SEED']);
/** Cases between two reads of the whole state (each read is about ten requests). */
const state_check_every = 25;
const ms_per_case_max = 1_000;
/** Four services booting on a shared, loaded machine, then the fixtures. */
const stack_start_timeout_ms = 600_000;

const error_types_by_status: Record<number, string[]> = {
  400: ['invalid_request_error'],
  401: ['authentication_error'],
  402: ['payment_error'],
  403: ['permission_error'],
  404: ['invalid_request_error'],
  409: ['invalid_request_error', 'idempotency_error'],
  422: ['invalid_request_error', 'idempotency_error'],
  429: ['rate_limit_error'],
};

/** A read may ignore a query parameter it does not know (API.md refuses unknown fields in bodies); nothing else with a fault may pass. */
function mustBeRefused(fuzz: FuzzCase): boolean {
  if (fuzz.fault === 'none') return false;
  return fuzz.method !== 'GET' || fuzz.fault !== 'query';
}

describe('fuzzing every endpoint of every service', () => {
  let stack: Stack;
  let merchant: PaynetClient;
  let merchant_id: string;
  let holder: TestHolder;
  let context: FuzzContext;
  let credentials: Credentials;
  let intents: PaymentIntentObject[];

  beforeAll(async () => {
    stack = await startStack();
    const onboarded = await onboardMerchant(stack, { name: 'Fuzzed', currency: 'USD' });
    merchant = merchantClient(stack, onboarded);
    merchant_id = onboarded.id;
    holder = await createHolder(stack, { amount: 100_000 });
    const paid = await merchant.createPaymentIntent({ amount: 700, currency: 'USD', reference: 'fuzz-paid' });
    const payment = await holder.fetch('POST', `/v1/payment-intents/${paid.id}/pay`, { account: holder.id }, { 'idempotency-key': `pay-${paid.id}` });
    if (payment.status !== 200) throw new Error(`paying the fixture intent answered ${payment.status}`);
    const open = await merchant.createPaymentIntent({ amount: 300, currency: 'USD', reference: 'fuzz-open' });
    intents = [paid, open];
    credentials = { admin_token: stack.adminToken, holder_token: holder.token, api_key: onboarded.api_key as string, api_secret: onboarded.api_secret as string };
    const routes = await readRoutes(stack.urls);
    context = {
      routes,
      fixtures: {
        holder_id: holder.id,
        merchant_id,
        ids_by_segment: {
          accounts: [holder.id],
          merchants: [merchant_id],
          'payment-intents': intents.map((intent) => intent.id),
        },
      },
    };
  }, stack_start_timeout_ms);

  afterAll(async () => {
    await stack?.stop();
  });

  /** Everything a fuzzed request could have changed, as its owners read it. */
  async function state(): Promise<unknown> {
    const operator = (service: 'accounts' | 'merchants', path: string) => adminFetch(stack, service, 'GET', path).then(({ status, body }) => ({ path, status, body }));
    const signed = (path: string) => merchant.request('GET', path).then(({ status, body }) => ({ path, status, body }));
    return Promise.all([
      operator('accounts', '/v1/ledger/verify'),
      operator('accounts', `/v1/accounts/${holder.id}`),
      operator('accounts', `/v1/accounts/${holder.id}/transactions?limit=100`),
      operator('merchants', `/v1/merchants/${merchant_id}`),
      holder.fetch('GET', `/v1/accounts/${holder.id}/balance`).then(({ status, body }) => ({ status, body })),
      signed(`/v1/merchants/${merchant_id}`),
      signed(`/v1/merchants/${merchant_id}/balance`),
      signed('/v1/payment-intents?limit=100'),
      ...intents.map((intent) => signed(`/v1/payment-intents/${intent.id}`)),
    ]);
  }

  function problemWith(fuzz: FuzzCase, answer: Answer): string | undefined {
    if (answer.status >= 500) return `answered ${answer.status}`;
    if (mustBeRefused(fuzz) && answer.status < 400) return `a request with a fault (${fuzz.fault}) was accepted: ${answer.status}`;
    if (answer.status < 400) return undefined;
    let body: unknown;
    try {
      body = JSON.parse(answer.text);
    } catch {
      return `a ${answer.status} without a JSON body`;
    }
    const error = (body as { error?: Record<string, unknown> }).error;
    const envelope =
      typeof error === 'object' &&
      error !== null &&
      typeof error['code'] === 'string' &&
      typeof error['message'] === 'string' &&
      (error['param'] === undefined || typeof error['param'] === 'string') &&
      Object.keys(body as object).length === 1 &&
      (error_types_by_status[answer.status] ?? []).includes(error['type'] as string);
    return envelope && answer.content_type.includes('application/json') ? undefined : `a ${answer.status} without the error envelope`;
  }

  const describeCase = (fuzz: FuzzCase) =>
    JSON.stringify({ ...fuzz, path: fuzz.path.slice(0, 300), headers: fuzz.headers.map(([name, value]) => [name, value.slice(0, 80)]), body: fuzz.body?.toString('utf8').slice(0, 300) });

  it(
    `answers ${runs} malformed requests below 500, with the error envelope, and changes nothing`,
    async () => {
      const before = await state();
      const recent: FuzzCase[] = [];
      const property = fc.asyncProperty(fuzzCase(context), async (fuzz) => {
        const answer = await send(stack.urls[fuzz.service], fuzz, withCredentials(fuzz, credentials));
        const problem = problemWith(fuzz, answer);
        if (problem !== undefined) throw new Error(`${fuzz.route}: ${problem}\n  answer: ${answer.text.slice(0, 500)}\n  case: ${describeCase(fuzz)}`);
        recent.push(fuzz);
        if (recent.length >= state_check_every) {
          const after = await state();
          if (JSON.stringify(after) !== JSON.stringify(before)) {
            throw new Error(`the state changed within the last ${recent.length} cases:\n${recent.map(describeCase).join('\n')}`);
          }
          recent.length = 0;
        }
      });
      await fc.assert(property, { numRuns: runs, seed, endOnFailure: true });
      expect(await state()).toEqual(before);
    },
    180_000 + runs * ms_per_case_max,
  );
});
