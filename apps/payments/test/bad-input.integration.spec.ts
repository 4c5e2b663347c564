import type { PaymentIntentObject } from '@paynet/contracts';
import { createHolder, createMerchant, type FetchResult, holderBalance, type InProcessStack, startInProcess, type TestHolder, type TestMerchant } from '@paynet/testing';
import { AppModule } from '../src/app.module.js';
import { payments_config_schema } from '../src/config.js';
import { refund_reason_length_max } from '../src/refunds/refunds.dto.js';

/**
 * Bad input, endpoint by endpoint: every refusal is a 4xx in the API.md error
 * shape, never a 5xx, and changes nothing (the merchant's intents, the
 * holder's and the merchant's balances read the same afterwards).
 *
 * To cover a new endpoint with a body, add a row to `body_endpoints`; with a
 * query, to `query_endpoints`; with an id in its path, to `id_endpoints`.
 */
describe('payments refuses bad input', () => {
  let stack: InProcessStack;
  let shop: TestMerchant;
  let payer: TestHolder;
  /** Open, for pay. */
  let intent: PaymentIntentObject;
  /** Paid by `payer` with capture_method manual: its hold awaits capture. */
  let held: PaymentIntentObject;
  /** Paid by `payer`, for refunds. */
  let paid: PaymentIntentObject;
  /** Open, for cancel. */
  let to_cancel: PaymentIntentObject;
  const [intent_amount, held_amount, paid_amount, payer_funds] = [500, 300, 200, 1_500];
  let key_counter = 0;
  const freshKey = () => `bad-input-${++key_counter}`;

  beforeAll(async () => {
    stack = await startInProcess([{ service: 'payments', schema: payments_config_schema, module: AppModule.forConfig }], {
      neighbours: ['accounts', 'merchants'],
    });
    shop = await createMerchant(stack);
    payer = await createHolder(stack, { amount: payer_funds });
    intent = await shop.client.createPaymentIntent({ amount: intent_amount, currency: 'USD', reference: 'target' });
    held = await paidIntent({ amount: held_amount, currency: 'USD', reference: 'held', capture_method: 'manual' });
    paid = await paidIntent({ amount: paid_amount, currency: 'USD', reference: 'paid' });
    to_cancel = await shop.client.createPaymentIntent({ amount: 100, currency: 'USD', reference: 'to cancel' });
    // What every refusal below must leave as it is: the hold pending, nothing refunded.
    expect(held).toMatchObject({ status: 'requires_capture', amount_received: 0 });
    expect(paid).toMatchObject({ status: 'succeeded', amount_received: paid_amount, amount_refunded: 0 });
    expect(await holderBalance(payer)).toMatchObject({ pending: held_amount, available: payer_funds - held_amount - paid_amount });
  });

  async function paidIntent(params: Parameters<TestMerchant['client']['createPaymentIntent']>[0]): Promise<PaymentIntentObject> {
    const created = await shop.client.createPaymentIntent(params);
    const answer = await payer.fetch('POST', `/v1/payment-intents/${created.id}/pay`, { account: payer.id }, { 'idempotency-key': freshKey() });
    expect(answer.status).toBe(200);
    return answer.body as PaymentIntentObject;
  }

  afterAll(async () => {
    await stack?.stop();
  });

  /** Everything a refused request could have changed. */
  async function world(): Promise<unknown> {
    const intents = await shop.client.listPaymentIntents({ limit: 100 });
    return { intents: intents.data, payer: await holderBalance(payer), shop: await shop.client.getMerchantBalance(shop.id) };
  }

  interface BodyEndpoint {
    name: string;
    /** Sends exactly these bytes as the body, with a new Idempotency-Key. */
    send(body: string | undefined): Promise<FetchResult<unknown>>;
    /** A body the endpoint accepts; cases change one field of it. */
    valid: () => Record<string, unknown>;
    /** Fields without which the body is refused (400 parameter_missing); none for `{ amount? }` bodies. */
    required: string[];
    amount_fields: string[];
    /** Endpoint-specific bad values: [field, value as JSON text]. */
    bad_fields: [string, string][];
  }

  const body_endpoints: BodyEndpoint[] = [
    {
      name: 'POST /v1/payment-intents',
      send: (body) => shop.raw('POST', '/v1/payment-intents', body, { 'idempotency-key': freshKey(), 'content-type': 'application/json' }),
      valid: () => ({ amount: 100, currency: 'USD', reference: 'ok' }),
      required: ['amount', 'currency', 'reference'],
      amount_fields: ['amount'],
      bad_fields: [
        ['currency', '"usd"'], ['currency', '"XXX"'], ['currency', '"EUR"'], ['currency', '840'], ['currency', 'null'],
        ['reference', '""'], ['reference', '"   "'], ['reference', JSON.stringify('r'.repeat(201))], ['reference', '7'],
        ['reference', JSON.stringify('nul\u0000byte')], ['description', JSON.stringify('d'.repeat(1_001))],
        ['description', JSON.stringify('\u0000')], ['description', '{}'],
        ['capture_method', '"later"'], ['capture_method', '"AUTOMATIC"'],
        ['expires_in', '0'], ['expires_in', '-5'], ['expires_in', '2592001'], ['expires_in', '1.5'], ['expires_in', '"60"'],
        ['expires_in', '1e309'],
      ],
    },
    {
      name: 'POST /v1/payment-intents/{id}/pay',
      send: (body) => payer.fetch('POST', `/v1/payment-intents/${intent.id}/pay`, body ?? '', { 'idempotency-key': freshKey(), 'content-type': 'application/json' }),
      valid: () => ({ account: payer.id }),
      required: ['account'],
      amount_fields: [],
      bad_fields: [['account', '""'], ['account', '123'], ['account', 'null'], ['account', '["x"]'], ['account', JSON.stringify('a'.repeat(129))],
        ['account', JSON.stringify('acct_\u0000')]],
    },
    {
      name: 'POST /v1/payment-intents/{id}/capture',
      send: (body) => shop.raw('POST', `/v1/payment-intents/${held.id}/capture`, body, { 'idempotency-key': freshKey(), 'content-type': 'application/json' }),
      valid: () => ({ amount: 100 }),
      required: [],
      amount_fields: ['amount'],
      // More than is held: amount_too_large.
      bad_fields: [['amount', String(held_amount + 1)]],
    },
    {
      name: 'POST /v1/payment-intents/{id}/refunds',
      send: (body) => shop.raw('POST', `/v1/payment-intents/${paid.id}/refunds`, body, { 'idempotency-key': freshKey(), 'content-type': 'application/json' }),
      valid: () => ({ amount: 100 }),
      required: [],
      amount_fields: ['amount'],
      bad_fields: [
        ['amount', String(paid_amount + 1)], // more than is left to refund: amount_too_large
        ['reason', '7'], ['reason', '""'], ['reason', '"   "'], ['reason', 'null'], ['reason', '{}'], ['reason', '["x"]'],
        ['reason', JSON.stringify('r'.repeat(refund_reason_length_max + 1))], ['reason', JSON.stringify('nul\u0000byte')],
      ],
    },
    {
      name: 'POST /v1/payment-intents/{id}/cancel',
      send: (body) => shop.raw('POST', `/v1/payment-intents/${to_cancel.id}/cancel`, body, { 'idempotency-key': freshKey(), 'content-type': 'application/json' }),
      valid: () => ({}),
      required: [],
      amount_fields: [],
      bad_fields: [],
    },
  ];

  const bad_amounts = ['12.5', '0.1', '"12"', '"1000"', '0', '-0', '-1', '1000000000001', String(2 ** 53), '1e309', '-1e309',
    `1${'0'.repeat(400)}`, '"99999999999999999999999999"', 'true', 'null', '[]', '{}'];

  function expectApiError(answer: FetchResult<unknown>, status: number, expected: { code?: string; param?: string } = {}): void {
    expect({ status: answer.status, body: answer.body }).toMatchObject({
      status,
      body: { error: { type: status === 404 || status === 400 ? 'invalid_request_error' : expect.any(String), code: expected.code ?? expect.any(String), message: expect.any(String) } },
    });
    const error = (answer.body as { error: Record<string, unknown> }).error;
    expect(Object.keys(error).every((key) => ['type', 'code', 'message', 'param'].includes(key))).toBe(true);
    if (expected.param !== undefined) expect(error['param']).toBe(expected.param);
  }

  /** A body with one field replaced by raw JSON text (so 1e309 and 400-digit numbers reach the server as written). */
  function withField(endpoint: BodyEndpoint, field: string, json_text: string): string {
    const base = endpoint.valid();
    delete base[field];
    const rest = JSON.stringify(base).slice(1, -1);
    return `{${rest}${rest === '' ? '' : ','}${JSON.stringify(field)}:${json_text}}`;
  }

  describe.each(body_endpoints)('$name', (endpoint) => {
    it('refuses an unknown field with 400 unknown_parameter naming it, and changes nothing', async () => {
      const before = await world();
      expectApiError(await endpoint.send(JSON.stringify({ ...endpoint.valid(), surprise: 1 })), 400, { code: 'unknown_parameter', param: 'surprise' });
      expectApiError(await endpoint.send(withField(endpoint, '__proto__', '{"admin":true}')), 400, { code: 'unknown_parameter', param: '__proto__' });
      expect(await world()).toEqual(before);
    });

    it('refuses floats, strings, zero, negatives and overflowing amounts with 400 naming the field', async () => {
      const before = await world();
      for (const field of endpoint.amount_fields) {
        for (const value of bad_amounts) {
          const answer = await endpoint.send(withField(endpoint, field, value));
          expect({ value, status: answer.status }).toEqual({ value, status: 400 });
          expectApiError(answer, 400, { param: field });
        }
      }
      expect(await world()).toEqual(before);
    });

    it('refuses bad values of its own fields with 400 naming the field', async () => {
      const before = await world();
      for (const [field, value] of endpoint.bad_fields) {
        const answer = await endpoint.send(withField(endpoint, field, value));
        expect({ field, value, status: answer.status }).toEqual({ field, value, status: 400 });
        expectApiError(answer, 400, { param: field });
      }
      expect(await world()).toEqual(before);
    });

    it('refuses a missing required field, or no body at all, with 400 parameter_missing', async () => {
      const before = await world();
      for (const field of endpoint.required) {
        const body = endpoint.valid();
        delete body[field];
        expectApiError(await endpoint.send(JSON.stringify(body)), 400, { code: 'parameter_missing', param: field });
      }
      if (endpoint.required.length > 0) expectApiError(await endpoint.send(undefined), 400, { code: 'parameter_missing' });
      expect(await world()).toEqual(before);
    });

    it('refuses malformed JSON and bodies that are not objects with 400', async () => {
      const before = await world();
      for (const body of ['{', '{"amount": 10,}', "{'amount': 10}", 'amount=10', '{"a":1}}', '\u0000']) {
        expectApiError(await endpoint.send(body), 400, { code: 'invalid_json' });
      }
      for (const body of ['[]', '[{"amount":10}]', '"text"', 'null', '42', 'true', `${'['.repeat(20_000)}${']'.repeat(20_000)}`]) {
        const answer = await endpoint.send(body);
        expect({ body: body.slice(0, 20), status: answer.status }).toEqual({ body: body.slice(0, 20), status: 400 });
        expectApiError(answer, 400);
      }
      expect(await world()).toEqual(before);
    });

    it('refuses a body over HTTP_BODY_LIMIT with 400 body_too_large', async () => {
      const before = await world();
      const body = withField(endpoint, 'padding', JSON.stringify('x'.repeat(70 * 1024)));
      expectApiError(await endpoint.send(body), 400, { code: 'body_too_large' });
      expect(await world()).toEqual(before);
    });
  });

  it('answers an unknown route or method with 404 in the error shape', async () => {
    for (const [method, path] of [['DELETE', `/v1/payment-intents/${intent.id}`], ['PUT', '/v1/payment-intents'], ['GET', '/v1/payment-intent'], ['POST', `/v1/payment-intents/${intent.id}/surprise`]]) {
      expectApiError(await shop.raw(method as string, path as string, method === 'GET' ? undefined : '{}'), 404, { code: 'route_not_found' });
    }
  });

  it('refuses a body in an unsupported encoding or charset with 400, and changes nothing', async () => {
    const before = await world();
    const body = JSON.stringify(body_endpoints[0]?.valid());
    const odd_headers: Record<string, string>[] = [{ 'content-encoding': 'x-unknown' }, { 'content-type': 'application/json; charset=latin2' }, { 'content-encoding': 'gzip' }];
    for (const headers of odd_headers) {
      const answer = await shop.raw('POST', '/v1/payment-intents', body, { 'idempotency-key': freshKey(), ...headers });
      expect({ headers, status: answer.status }).toEqual({ headers, status: 400 });
      expectApiError(answer, 400);
    }
    expect(await world()).toEqual(before);
  });

  const query_endpoints = [{ name: 'GET /v1/payment-intents', send: (query: string) => shop.raw('GET', `/v1/payment-intents?${query}`) }];

  describe.each(query_endpoints)('$name', (endpoint) => {
    it.each([
      ['limit=0', 'limit'], ['limit=101', 'limit'], ['limit=abc', 'limit'], ['limit=-1', 'limit'], ['limit=1.5', 'limit'],
      ['limit=', 'limit'], ['limit=1&limit=2', 'limit'], ['limit=1e400', 'limit'], ['status=bogus', 'status'], ['status=', 'status'],
      ['starting_after=', 'starting_after'], [`starting_after=${'p'.repeat(129)}`, 'starting_after'], ['starting_after=pi_missing', 'starting_after'],
      ['starting_after=pi_%00', 'starting_after'], ['surprise=1', 'surprise'], ['status[gt]=x', 'status[gt]'],
    ])('refuses ?%s with 400 naming %s', async (query, param) => {
      const answer = await endpoint.send(query);
      expectApiError(answer, 400, { param });
    });
  });

  const id_endpoints = [
    { name: 'GET /v1/payment-intents/{id} as the merchant', send: (id: string) => shop.raw('GET', `/v1/payment-intents/${id}`) },
    { name: 'GET /v1/payment-intents/{id} as the holder', send: (id: string) => payer.fetch('GET', `/v1/payment-intents/${id}`) },
    {
      name: 'POST /v1/payment-intents/{id}/pay',
      send: (id: string) => payer.fetch('POST', `/v1/payment-intents/${id}/pay`, { account: payer.id }, { 'idempotency-key': freshKey() }),
    },
    {
      name: 'POST /v1/payment-intents/{id}/capture',
      send: (id: string) => shop.raw('POST', `/v1/payment-intents/${id}/capture`, '{}', { 'idempotency-key': freshKey(), 'content-type': 'application/json' }),
    },
    { name: 'POST /v1/payment-intents/{id}/cancel (no Idempotency-Key)', send: (id: string) => shop.raw('POST', `/v1/payment-intents/${id}/cancel`) },
    {
      name: 'POST /v1/payment-intents/{id}/refunds',
      send: (id: string) => shop.raw('POST', `/v1/payment-intents/${id}/refunds`, '{}', { 'idempotency-key': freshKey(), 'content-type': 'application/json' }),
    },
  ];

  describe.each(id_endpoints)('$name', (endpoint) => {
    it('answers 404 for ids that do not exist, however odd, and 400 for ids that cannot be read', async () => {
      const before = await world();
      for (const id of ['pi_missing', 'acct_123', 'x', 'p'.repeat(2_000), "pi_'%3B%20DROP%20TABLE%20payment_intents%3B--", '%E2%9C%93', '..%2F..%2Fhealth']) {
        const answer = await endpoint.send(id);
        expect({ id: id.slice(0, 40), status: answer.status }).toEqual({ id: id.slice(0, 40), status: 404 });
        expectApiError(answer, 404, { code: 'resource_missing' });
      }
      // The last one overflows Node's 16 KiB header limit: refused before Express, in the same shape.
      for (const id of ['%00', 'pi_%00x', '%FF', '%E0%A4%A', '%', 'p'.repeat(20_000)]) {
        const answer = await endpoint.send(id);
        expect({ id: id.slice(0, 40), status: answer.status }).toEqual({ id: id.slice(0, 40), status: 400 });
        expectApiError(answer, 400, { code: 'parameter_invalid' });
      }
      expect(await world()).toEqual(before);
    });
  });

  // Last (a describe of its own runs after the ones above): it pays, captures, refunds and cancels the targets.
  describe('afterwards', () => {
    it('still accepts the valid bodies the cases start from (the cases are refused for their flaw alone)', async () => {
      const expected_status: Record<string, number> = { 'POST /v1/payment-intents': 201, 'POST /v1/payment-intents/{id}/refunds': 201 };
      for (const endpoint of body_endpoints) {
        const answer = await endpoint.send(JSON.stringify(endpoint.valid()));
        expect({ endpoint: endpoint.name, status: answer.status }).toEqual({ endpoint: endpoint.name, status: expected_status[endpoint.name] ?? 200 });
      }
      const intents = await shop.client.listPaymentIntents({ limit: 100 });
      const find = (id: string) => intents.data.find((candidate) => candidate.id === id);
      expect(find(intent.id)).toMatchObject({ status: 'succeeded', amount_received: intent_amount });
      expect(find(held.id)).toMatchObject({ status: 'succeeded', amount_received: 100 });
      expect(find(paid.id)).toMatchObject({ status: 'succeeded', amount_refunded: 100 });
      expect(find(to_cancel.id)).toMatchObject({ status: 'canceled' });
      // Paid in full: the target and `paid`; of the hold, 100 captured, the rest released; 100 refunded.
      expect(await holderBalance(payer)).toMatchObject({ pending: 0, available: payer_funds - intent_amount - paid_amount - 100 + 100 });
    });
  });
});
