import { jest } from '@jest/globals';
import type { ServiceName } from '@paynet/devstack';
import {
  createHolder,
  createMerchant,
  type FetchResult,
  jsonFetch,
  sleep,
  type Stack,
  startStack,
  StreamClient,
  type StreamRefusal,
  type TestHolder,
  type TestMerchant,
} from '@paynet/testing';
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';

/**
 * API.md's rate limits on the four services as processes, with small budgets
 * (set here; test stacks are otherwise unlimited). Clients are told apart by
 * X-Forwarded-For from the trusted loopback proxy, as behind a load balancer.
 * No assertion is on speed: a bound on what was admitted grows with the time
 * the burst took (one budget per started second), and a slow machine only
 * admits less.
 */
jest.setTimeout(180_000);

const per_second = 10;
const unauthenticated_per_second = 4;
/** Enough at once to overrun a budget, few enough for a loaded 2-core machine to answer in time. */
const burst = 3 * per_second;

let stack: Stack;
let merchant: TestMerchant;
let other_merchant: TestMerchant;
let holder: TestHolder;

beforeAll(async () => {
  stack = await startStack({
    env: {
      RATE_LIMIT_PER_SECOND: String(per_second),
      RATE_LIMIT_UNAUTHENTICATED_PER_SECOND: String(unauthenticated_per_second),
      TRUST_PROXY: 'loopback',
    },
  });
  merchant = await createMerchant(stack);
  other_merchant = await createMerchant(stack);
  holder = await createHolder(stack, { amount: 10_000 });
});

afterAll(async () => {
  await stack?.stop();
});

/** A client address of the documentation range (RFC 5737), one per test. */
let next_address = 1;
const newAddress = () => `203.0.113.${next_address++}`;
const from = (address: string) => ({ 'x-forwarded-for': address });

interface Burst<T> {
  answers: FetchResult<T>[];
  /** Whole seconds the burst spanned, rounded up: the budget is per second. */
  windows: number;
}

/** `count` requests at once; answers them with the number of one-second windows they spanned. */
async function atOnce<T>(count: number, send: (index: number) => Promise<FetchResult<T>>): Promise<Burst<T>> {
  const started_ms = performance.now();
  const answers = await Promise.all(Array.from({ length: count }, (_, index) => send(index)));
  return { answers, windows: Math.floor((performance.now() - started_ms) / 1_000) + 1 };
}

const statuses = (answers: readonly FetchResult<unknown>[], status: number) => answers.filter((answer) => answer.status === status);

function expectRateLimited(answer: FetchResult<unknown>): void {
  expect(answer.status).toBe(429);
  expect(answer.body).toEqual({ error: { type: 'rate_limit_error', code: 'rate_limited', message: expect.any(String) } });
  expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
}

async function waitOut(answer: FetchResult<unknown>): Promise<void> {
  await sleep(Number(answer.headers.get('retry-after') ?? 1) * 1_000 + 100);
}

it('a merchant over its budget gets 429 rate_limit_error with Retry-After, and a refused request changes nothing', async () => {
  const address = newAddress();
  const warm = await merchant.raw('GET', '/v1/payment-intents?limit=1', undefined, from(address));
  expect(warm.status).toBe(200);
  const keys = Array.from({ length: burst }, () => randomUUID());
  const create = (key: string) =>
    merchant.raw('POST', '/v1/payment-intents', JSON.stringify({ amount: 100, currency: 'USD', reference: key }), { ...from(address), 'idempotency-key': key });

  const { answers, windows } = await atOnce(burst, (index) => create(keys[index] as string));

  const created = statuses(answers, 201);
  const refused = statuses(answers, 429);
  expect(created.length + refused.length).toBe(burst);
  expect(refused.length).toBeGreaterThan(0);
  expect(created.length).toBeLessThanOrEqual(per_second * windows);
  for (const answer of refused) expectRateLimited(answer);

  await waitOut(refused[0] as FetchResult<unknown>);
  const listed = await merchant.raw('GET', '/v1/payment-intents?limit=100', undefined, from(address));
  expect(listed.status).toBe(200);
  const references = (listed.body as { data: { reference: string }[] }).data.map((intent) => intent.reference).sort();
  expect(references).toEqual(created.map((answer) => (answer.body as { reference: string }).reference).sort());
  // A 429 is not stored against its Idempotency-Key: the same request goes through later, new.
  const refused_key = keys[answers.indexOf(refused[0] as FetchResult<unknown>)] as string;
  const again = await create(refused_key);
  expect(again.status).toBe(201);
  expect(again.headers.get('idempotent-replayed')).toBeNull();
});

it('every service limits its principals: merchants, accounts and push', async () => {
  const address = newAddress();
  const calls: [ServiceName, () => Promise<FetchResult<unknown>>][] = [
    ['merchants', () => other_merchant.raw('GET', `/v1/merchants/${other_merchant.id}`, undefined, from(address))],
    ['accounts', () => holder.fetch('GET', `/v1/accounts/${holder.id}/balance`, undefined, from(address))],
    ['push', () => other_merchant.raw('GET', '/v1/webhook-deliveries?limit=1', undefined, from(address))],
  ];
  for (const [service, call] of calls) {
    expect([service, (await call()).status]).toEqual([service, 200]);
    const { answers } = await atOnce(burst, () => call());
    expect([service, statuses(answers, 429).length > 0]).toEqual([service, true]);
    for (const answer of statuses(answers, 429)) expectRateLimited(answer);
  }
});

it('requests without valid credentials are cut per address before anyone checks them; valid ones count only against their principal', async () => {
  const flooding = newAddress();
  const bad_signature = (index: number) =>
    jsonFetch(`${stack.urls.payments}/v1/payment-intents?limit=1`, {
      headers: { 'x-api-key': 'mk_nobody', 'x-timestamp': String(Math.floor(Date.now() / 1000)), 'x-nonce': `nonce-${randomUUID()}-${index}`, 'x-signature': `v1=${'0'.repeat(64)}`, ...from(flooding) },
    });
  const { answers, windows } = await atOnce(5 * unauthenticated_per_second, bad_signature);
  // Each 401 is a check merchants made; the rest were refused before it was asked.
  expect(statuses(answers, 401).length).toBeLessThanOrEqual(unauthenticated_per_second * windows);
  expect(statuses(answers, 401).length + statuses(answers, 429).length).toBe(answers.length);
  for (const answer of statuses(answers, 429)) expectRateLimited(answer);

  // A holder alone at its address makes more requests than the address budget, all answered.
  // Its own budget's window is waited out first: the test before burst it a moment ago.
  await sleep(1_100);
  const quiet = newAddress();
  for (let index = 0; index < 2 * unauthenticated_per_second + 1; index++) {
    expect((await holder.fetch('GET', `/v1/accounts/${holder.id}`, undefined, from(quiet))).status).toBe(200);
  }
});

it("one principal's flood does not refuse another's requests, even from the same address", async () => {
  const shared = newAddress();
  const flood_call = () => merchant.raw('GET', '/v1/payment-intents?limit=1', undefined, from(shared));
  const calm_call = () => other_merchant.raw('GET', '/v1/payment-intents?limit=1', undefined, from(shared));
  expect((await flood_call()).status).toBe(200);
  expect((await calm_call()).status).toBe(200);
  await sleep(1_100);

  const flood = atOnce(2 * burst, flood_call);
  const calm: FetchResult<unknown>[] = [];
  for (let index = 0; index < per_second / 2; index++) calm.push(await calm_call());

  expect(statuses((await flood).answers, 429).length).toBeGreaterThan(0);
  expect(calm.map((answer) => answer.status)).toEqual(calm.map(() => 200));
});

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/**
 * A POST whose headers promise a body that is not sent until `sendBody`: a
 * service that reads bodies before anything else waits for it, so an answer
 * before `sendBody` was refused at the door (docs/SECURITY.md, Rate limits).
 */
function withheldBody(url: string, headers: Record<string, string>): { answer: Promise<RawAnswer>; sendBody: () => void } {
  const body = '{}';
  const outgoing = httpRequest(url, { method: 'POST', agent: false, headers: { ...headers, 'content-type': 'application/json', 'content-length': String(body.length) } });
  const answer = new Promise<RawAnswer>((resolve, reject) => {
    outgoing.on('response', (incoming) => {
      let text = '';
      incoming.setEncoding('utf8');
      incoming.on('data', (chunk: string) => (text += chunk));
      incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, headers: incoming.headers, body: text === '' ? undefined : JSON.parse(text) }));
    });
    outgoing.on('error', reject);
  });
  outgoing.flushHeaders();
  return { answer, sendBody: () => outgoing.end(body) };
}

/** Whether any of `answers` is a 429, told as soon as one is (the others may still be on their way). */
function refusedOnce(answers: readonly Promise<FetchResult<unknown>>[]): Promise<boolean> {
  return new Promise((resolve) => {
    for (const answer of answers) answer.then((result) => result.status === 429 && resolve(true), () => undefined);
    void Promise.allSettled(answers).then(() => resolve(false));
  });
}

/**
 * Spends a budget with `spend`, then sends a request with a withheld body
 * from the same client: answered before its body was sent, or, when the
 * budget's second ended in between (a slow machine), sent in full and tried
 * again in a later second. Answers the early answer, if any came.
 */
async function refusedBeforeItsBody(spend: () => Promise<void>, url: string, headers: Record<string, string>): Promise<RawAnswer | undefined> {
  for (let attempt = 0; attempt < 5; attempt++) {
    await spend();
    const withheld = withheldBody(url, headers);
    const early = await Promise.race([withheld.answer, sleep(2_000).then(() => undefined)]);
    if (early !== undefined) return early;
    withheld.sendBody();
    await withheld.answer;
  }
  return undefined;
}

it("a principal over its budget is refused at the door: 429 with Retry-After before its request's body is read", async () => {
  await sleep(1_100);
  const address = newAddress();
  const read = () => holder.fetch('GET', `/v1/accounts/${holder.id}`, undefined, from(address));
  expect((await read()).status).toBe(200);
  // Until a burst is refused in part: on a slow machine one may span enough seconds to be let through whole.
  // Done at its first 429: the burst's other refusals are held to the window's end (refusal pacing), and by then the budget is new.
  const spend = async () => {
    for (let tries = 0; tries < 5; tries++) if (await refusedOnce(Array.from({ length: burst }, () => read()))) return;
  };
  // Operator-only: were it ever let through, the holder's token is answered 403 and nothing changes.
  const refused = await refusedBeforeItsBody(spend, `${stack.urls.accounts}/v1/accounts/${holder.id}/deposits`, {
    authorization: `Bearer ${holder.token}`,
    'x-request-id': 'door-refusal-1',
    ...from(address),
  });
  expect(refused).toMatchObject({ status: 429, body: { error: { type: 'rate_limit_error', code: 'rate_limited', message: expect.any(String) } } });
  expect(Number(refused?.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  // Like every answer, it names the request: the client's id when it gave one.
  expect(refused?.headers['request-id']).toBe('door-refusal-1');
});

it('an unauthenticated flood from one address is refused at the door and leaves another address its budget', async () => {
  const flooding = newAddress();
  const other = newAddress();
  const intents = `${stack.urls.payments}/v1/payment-intents?limit=1`;
  const flood_answers: number[] = [];
  let flood_on = true;
  const flood = Promise.all(
    Array.from({ length: 8 }, async () => {
      while (flood_on) flood_answers.push((await jsonFetch(intents, { headers: from(flooding) })).status);
    }),
  );
  try {
    // From another address meanwhile, within its budget: each request without credentials is checked (401), never refused.
    const others: number[] = [];
    for (let index = 0; index < unauthenticated_per_second - 1; index++) others.push((await jsonFetch(intents, { headers: from(other) })).status);
    others.push((await other_merchant.raw('GET', '/v1/payment-intents?limit=1', undefined, from(other))).status);
    expect(others).toEqual([...Array<number>(unauthenticated_per_second - 1).fill(401), 200]);
    // The flooding address's health probes are exempt, at the door too.
    expect((await jsonFetch(`${stack.urls.payments}/health/live`, { headers: from(flooding) })).status).toBe(200);
    // And its spent budget refuses it before its body is read.
    const refused = await refusedBeforeItsBody(async () => {
      while (!flood_answers.includes(429)) await sleep(10);
    }, `${stack.urls.payments}/v1/payment-intents`, from(flooding));
    expect(refused).toMatchObject({ status: 429, body: { error: { type: 'rate_limit_error', code: 'rate_limited' } } });
    expect(Number(refused?.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(refused?.headers['request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  } finally {
    flood_on = false;
    await flood;
  }
  expect(flood_answers.filter((status) => status === 429).length).toBeGreaterThan(0);
  expect(flood_answers.every((status) => status === 401 || status === 429)).toBe(true);
});

it('a client that asks again as soon as it is refused is answered once per open request per window, not once per round trip', async () => {
  await sleep(1_100);
  const address = newAddress();
  const read = () => holder.fetch('GET', `/v1/accounts/${holder.id}`, undefined, from(address));
  const loops = 4;
  const answers: number[] = [];
  const started_ms = performance.now();
  // Retry-After ignored: each loop sends its next request the moment it has an answer, for two seconds.
  await Promise.all(
    Array.from({ length: loops }, async () => {
      while (performance.now() - started_ms < 2_000) answers.push((await read()).status);
    }),
  );
  const windows = Math.floor((performance.now() - started_ms) / 1_000) + 1;
  const refused = answers.filter((status) => status === 429).length;
  const served = answers.filter((status) => status === 200).length;
  expect(served + refused).toBe(answers.length);
  expect(refused).toBeGreaterThan(0);
  expect(served).toBeLessThanOrEqual(per_second * windows);
  // Each window: its first refusal at once, then each open request's refusal held to the window's end.
  // (Answered at once, four loops on loopback would get hundreds of 429s in two seconds.)
  expect(refused).toBeLessThanOrEqual((loops + 1) * (windows + 1));
});

it('a token opens at most 20 streams at once: the 21st is refused with 429 before the upgrade', async () => {
  const issued = await other_merchant.raw('POST', `/v1/merchants/${other_merchant.id}/stream-tokens`, '{}');
  expect(issued.status).toBe(201);
  const token = (issued.body as { token: string }).token;
  const streams: StreamClient[] = [];
  try {
    for (let index = 0; index < 20; index++) streams.push(expectOpen(await openWithinBudget(token)));
    const refused = await openWithinBudget(token);
    expect(refused).toMatchObject({ status: 429, upgraded: false, body: { error: { type: 'rate_limit_error', code: 'too_many_streams' } } });
    expect(Number((refused as StreamRefusal).retry_after)).toBeGreaterThanOrEqual(1);

    await streams.pop()?.close();
    streams.push(expectOpen(await openWithinBudget(token)));
  } finally {
    await Promise.all(streams.map((stream) => stream.close()));
  }
});

/** Opens a stream; a refusal for the request budget (opening 20 at once is 20 requests) waits its second out and tries again. */
async function openWithinBudget(token: string): Promise<StreamClient | StreamRefusal> {
  for (let attempt = 0; ; attempt++) {
    const opened = await StreamClient.tryOpen(stack.urls.push, token);
    const code = opened instanceof StreamClient ? undefined : (opened.body as { error?: { code?: string } } | null)?.error?.code;
    if (code !== 'rate_limited' || attempt >= 10) return opened;
    await sleep(Number((opened as StreamRefusal).retry_after ?? 1) * 1_000);
  }
}

function expectOpen(opened: StreamClient | StreamRefusal): StreamClient {
  if (!(opened instanceof StreamClient)) throw new Error(`the stream was refused: ${JSON.stringify(opened)}`);
  return opened;
}
