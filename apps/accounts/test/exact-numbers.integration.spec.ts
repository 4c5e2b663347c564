import type { AccountObject, PostTransferCommand } from '@paynet/contracts';
import { adminFetch, type InProcessStack, startInProcess } from '@paynet/testing';
import { AppModule } from '../src/app.module.js';
import { accounts_config_schema } from '../src/config.js';

/** A transfer's lines are at most 16, each at most 1e12: 8 credits of 1e12 per transfer. */
const credits_per_transfer = 8;
const amount_max = 1_000_000_000_000n;
/** Transfers sent at once; the batcher applies up to 256 in one transaction. */
const transfers_in_flight = 64;

/** API.md Money: integers only (`1.0` and `1e3` are floats), and balances exact however large. */
describe('exact JSON numbers in accounts', () => {
  let stack: InProcessStack;

  beforeAll(async () => {
    stack = await startInProcess([{ service: 'accounts', schema: accounts_config_schema, module: AppModule.forConfig }]);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function wallet(): Promise<AccountObject> {
    const created = await adminFetch<AccountObject>(stack, 'accounts', 'POST', '/v1/accounts', { currency: 'USD', owner_name: 'Big' });
    expect(created.status).toBe(201);
    return created.body;
  }

  /** The answer's text: JSON.parse would round what this test checks. */
  async function rawGet(path: string): Promise<{ status: number; text: string }> {
    const response = await fetch(`${stack.urls.accounts}${path}`, { headers: { authorization: `Bearer ${stack.adminToken}` } });
    return { status: response.status, text: await response.text() };
  }

  it.each([
    ['1.0', '1.0'],
    ['1e3', '1e3'],
    ['100.00', '100.00'],
    ['5E2', '5E2'],
    ['2^53 + 1', '9007199254740993'],
    ['a 401-digit integer', '1' + '0'.repeat(400)],
  ])('refuses a deposit of %s with 400 and deposits nothing', async (_name, literal) => {
    const account = await wallet();
    const answer = await adminFetch(stack, 'accounts', 'POST', `/v1/accounts/${account.id}/deposits`, `{"amount":${literal}}`, { idempotencyKey: `float-${account.id}` });
    expect(answer).toMatchObject({ status: 400, body: { error: { type: 'invalid_request_error', code: 'parameter_invalid', param: 'amount' } } });
    expect((await rawGet(`/v1/accounts/${account.id}/balance`)).text).toContain('"posted":0,');
  });

  it('answers a balance past 2^53 as the exact integer: balance, account, statement line and ledger verify', async () => {
    const account = await wallet();
    const transfers = Math.ceil(Number(2n ** 53n / amount_max) / credits_per_transfer) + 1;
    const command = (n: number): PostTransferCommand => ({
      transfer_id: `big-${account.id}-${n}`,
      currency: 'USD',
      description: 'funding past 2^53',
      lines: Array.from({ length: credits_per_transfer }, () => [
        { account: 'platform:funding', direction: 'debit' as const, amount_minor: String(amount_max) },
        { account: account.id, direction: 'credit' as const, amount_minor: String(amount_max) },
      ]).flat(),
    });
    for (let start = 0; start < transfers; start += transfers_in_flight) {
      const ids = Array.from({ length: Math.min(transfers_in_flight, transfers - start) }, (_, index) => start + index);
      await Promise.all(ids.map((n) => stack.rpc.request('accounts.transfers.post', command(n), { timeout_ms: 30_000 })));
    }
    // One more minor unit: an odd number past 2^53 is not a double, so rounding would show.
    const deposit = await fetch(`${stack.urls.accounts}/v1/accounts/${account.id}/deposits`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json', 'idempotency-key': `odd-${account.id}` },
      body: '{"amount":1}',
    });
    const expected = BigInt(transfers * credits_per_transfer) * amount_max + 1n;
    expect(expected > 2n ** 53n).toBe(true);
    expect(deposit.status).toBe(201);
    expect(await deposit.text()).toContain(`"balance_after":${expected}`);
    const balance = await rawGet(`/v1/accounts/${account.id}/balance`);
    expect(balance).toEqual({ status: 200, text: `{"object":"balance","currency":"USD","posted":${expected},"pending":0,"available":${expected}}` });
    expect((await rawGet(`/v1/accounts/${account.id}`)).text).toContain(`"posted":${expected},`);
    expect((await rawGet(`/v1/accounts/${account.id}/transactions?limit=1`)).text).toContain(`"balance_after":${expected}`);
    const replay = await fetch(`${stack.urls.accounts}/v1/accounts/${account.id}/deposits`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json', 'idempotency-key': `odd-${account.id}` },
      body: '{"amount":1}',
    });
    expect({ replayed: replay.headers.get('idempotent-replayed'), text: await replay.text() }).toEqual({ replayed: 'true', text: expect.stringContaining(`"balance_after":${expected}`) });
    expect(await stack.rpc.request('accounts.balances.get', { account_id: account.id })).toMatchObject({ posted: String(expected), available: String(expected) });
    expect(await adminFetch(stack, 'accounts', 'GET', '/v1/ledger/verify')).toMatchObject({ status: 200, body: { ok: true } });
  });
});
