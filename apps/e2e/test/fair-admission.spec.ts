import { jest } from '@jest/globals';
import { createMerchant, type FetchResult, type Stack, startStack, type TestMerchant } from '@paynet/testing';
import { randomUUID } from 'node:crypto';

/**
 * Fair admission (docs/SECURITY.md, Rate limits) on the services as
 * processes: few request slots per replica and a small bound on what one
 * principal may have pending, so a flood from one merchant fills payments
 * while another merchant keeps calling. Order and counts are asserted, not
 * speed.
 */
jest.setTimeout(180_000);

const slots = 2;
const pending_max = 24;
/** Far more than the flooder may have pending at once: most of it is refused at once. */
const flood_size = 3 * pending_max;
/** The calm merchant's requests, one after the other, while the flood runs. */
const calm_calls = 4;

let stack: Stack;
let flooder: TestMerchant;
let calm: TestMerchant;

beforeAll(async () => {
  stack = await startStack({
    env: { MAX_CONCURRENT_REQUESTS: String(slots), MAX_PENDING_REQUESTS_PER_PRINCIPAL: String(pending_max), TRUST_PROXY: 'loopback' },
  });
  flooder = await createMerchant(stack);
  calm = await createMerchant(stack);
});

afterAll(async () => {
  await stack?.stop();
});

// Both from one client address: they are told apart by their credentials.
const from = { 'x-forwarded-for': '203.0.113.77' };

it("one merchant's flood is refused past its pending bound, and another merchant is served in turn while it runs", async () => {
  // Each credential has authenticated once, so its requests take their principal's turns, not the address's.
  expect((await flooder.raw('GET', '/v1/payment-intents?limit=1', undefined, from)).status).toBe(200);
  expect((await calm.raw('GET', '/v1/payment-intents?limit=1', undefined, from)).status).toBe(200);

  /** Who was answered, in the order the answers came. */
  const answered: ('flood' | 'calm')[] = [];
  const references = Array.from({ length: flood_size }, () => `flood-${randomUUID()}`);
  const flood = Promise.all(
    references.map(async (reference) => {
      const body = JSON.stringify({ amount: 100, currency: 'USD', reference });
      const answer = await flooder.raw('POST', '/v1/payment-intents', body, { ...from, 'idempotency-key': reference });
      if (answer.status === 201) answered.push('flood');
      return answer;
    }),
  );
  const calm_answers: FetchResult<unknown>[] = [];
  for (let index = 0; index < calm_calls; index++) {
    calm_answers.push(await calm.raw('GET', '/v1/payment-intents?limit=1', undefined, from));
    answered.push('calm');
  }
  const flood_answers = await flood;

  // The calm merchant: every request answered, none refused.
  expect(calm_answers.map((answer) => answer.status)).toEqual(calm_answers.map(() => 200));
  // ... and served in turn while the flood ran: its last answer came before the flood's last creation.
  expect(answered.lastIndexOf('calm')).toBeLessThan(answered.lastIndexOf('flood'));

  // The flooder: past its bound, 429 rate_limit_error with Retry-After.
  const created = flood_answers.filter((answer) => answer.status === 201);
  const refused = flood_answers.filter((answer) => answer.status === 429);
  expect(created.length + refused.length).toBe(flood_size);
  expect(refused.length).toBeGreaterThan(0);
  for (const answer of refused) {
    expect(answer.body).toEqual({ error: { type: 'rate_limit_error', code: 'too_many_concurrent_requests', message: expect.any(String) } });
    expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  }
  // A refused request changed nothing: the intents are exactly the ones answered 201.
  const listed = await flooder.raw('GET', '/v1/payment-intents?limit=100', undefined, from);
  expect(listed.status).toBe(200);
  const listed_references = (listed.body as { data: { reference: string }[] }).data.map((intent) => intent.reference).sort();
  expect(listed_references).toEqual(created.map((answer) => (answer.body as { reference: string }).reference).sort());
});
