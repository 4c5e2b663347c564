import type { AccountObject, MerchantObject, PaymentIntentObject } from '@paynet/contracts';
import { generateSecretsKey, serviceNames } from '@paynet/devstack';
import type { PaynetClient } from '@paynet/sdk';
import { adminFetch, merchantClient, type Stack, startStack, waitFor, WebhookReceiver, workspaceRoot } from '@paynet/testing';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';

const run = promisify(execFile);
/** Restarts, builds and four short processes on a loaded machine. */
const phase_timeout_ms = 300_000;

/** `npm run secrets:reseal` as package.json has it, without its build (the stack built dist already). */
function resealCommand(): string {
  const scripts = (JSON.parse(readFileSync(join(workspaceRoot(), 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const command = scripts['secrets:reseal'] as string;
  const build = 'npm run build --silent && ';
  expect(command.startsWith(build)).toBe(true);
  return command.slice(build.length);
}

/** The key id a sealed value names (`v1.<key id>.…`): the first 8 hex digits of the key's SHA-256 (SecretBox). */
function keyIdOf(key_base64: string): string {
  return createHash('sha256').update(Buffer.from(key_base64, 'base64')).digest('hex').slice(0, 8);
}

/**
 * SECRETS_KEY rotation (issue 15, docs/SECURITY.md "Rotating secrets"): the
 * services read what the old key sealed once it is SECRETS_KEY_PREVIOUS,
 * seal anew with the new key, and `npm run secrets:reseal` moves every
 * stored secret and answer to the new key while they run, after which the
 * old key can go.
 */
describe('SECRETS_KEY rotation: SECRETS_KEY_PREVIOUS and npm run secrets:reseal', () => {
  const old_key = generateSecretsKey();
  const new_key = generateSecretsKey();
  let stack: Stack;
  let receiver: WebhookReceiver;
  let database: pg.Client;

  beforeAll(async () => {
    [stack, receiver] = await Promise.all([startStack({ env: { SECRETS_KEY: old_key } }), WebhookReceiver.start()]);
    database = new pg.Client({ connectionString: stack.databaseUrl });
    await database.connect();
  });
  afterAll(async () => {
    await database?.end();
    await receiver?.close();
    await stack?.stop();
  });

  /** Every sealed value in the four schemas, whatever table or column holds it, by the key id it names. */
  async function sealedKeyIds(): Promise<Map<string, number>> {
    const columns = await database.query<{ table_schema: string; table_name: string; column_name: string }>(
      `SELECT table_schema, table_name, column_name FROM information_schema.columns
       WHERE table_schema = ANY($1) AND column_name LIKE '%sealed%'`,
      [serviceNames],
    );
    const counts = new Map<string, number>();
    for (const { table_schema, table_name, column_name } of columns.rows) {
      const rows = await database.query<{ key_id: string; count: string }>(
        `SELECT split_part("${column_name}", '.', 2) AS key_id, count(*) AS count FROM "${table_schema}"."${table_name}" WHERE "${column_name}" IS NOT NULL GROUP BY 1`,
      );
      for (const row of rows.rows) counts.set(row.key_id, (counts.get(row.key_id) ?? 0) + Number(row.count));
    }
    return counts;
  }

  async function restartAll(env: Record<string, string | undefined>): Promise<void> {
    await Promise.all(serviceNames.map((name) => stack.restart(name, env)));
  }

  async function reseal(): Promise<string> {
    const { stdout } = await run('sh', ['-c', resealCommand()], {
      cwd: workspaceRoot(),
      env: { ...process.env, DATABASE_URL: stack.databaseUrl, SECRETS_KEY: new_key, SECRETS_KEY_PREVIOUS: old_key },
      timeout: 120_000,
    });
    return stdout;
  }

  /** What was made under a key: a merchant and a holder (sealed secrets and answers), an intent and a pay (sealed answers). */
  async function makeData(label: string) {
    const created = await adminFetch<MerchantObject>(stack, 'merchants', 'POST', '/v1/merchants', { name: `Shop ${label}`, currency: 'USD', webhook_url: receiver.url }, { idempotencyKey: `merchant-${label}` });
    expect(created.status).toBe(201);
    const merchant = created.body;
    const client = merchantClient(stack, merchant);
    const rotated = await client.request<MerchantObject>('POST', `/v1/merchants/${merchant.id}/api-keys/rotate`, {});
    expect(rotated.status).toBe(200);
    const holder = await adminFetch<AccountObject>(stack, 'accounts', 'POST', '/v1/accounts', { currency: 'USD', owner_name: `Holder ${label}` }, { idempotencyKey: `holder-${label}` });
    expect(holder.status).toBe(201);
    const intent = await client.request<PaymentIntentObject>('POST', '/v1/payment-intents', { amount: 100, currency: 'USD', reference: label }, { idempotencyKey: `intent-${label}` });
    expect(intent.status).toBe(201);
    return { merchant, client, new_key_client: merchantClient(stack, { ...merchant, ...rotated.body }), holder: holder.body, intent: intent.body, label };
  }
  type Made = Awaited<ReturnType<typeof makeData>>;

  /** Everything made under a key still reads as it did: signatures check, answers replay with their secrets, webhooks verify. */
  async function expectReadable(made: Made, client: PaynetClient = made.new_key_client): Promise<void> {
    expect((await client.request('GET', `/v1/merchants/${made.merchant.id}`)).status).toBe(200);
    const again = await adminFetch<MerchantObject>(stack, 'merchants', 'POST', '/v1/merchants', { name: `Shop ${made.label}`, currency: 'USD', webhook_url: receiver.url }, { idempotencyKey: `merchant-${made.label}` });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(made.merchant);
    const holder = await adminFetch<AccountObject>(stack, 'accounts', 'POST', '/v1/accounts', { currency: 'USD', owner_name: `Holder ${made.label}` }, { idempotencyKey: `holder-${made.label}` });
    expect(holder.body).toEqual(made.holder);
    const intent = await client.request<PaymentIntentObject>('POST', '/v1/payment-intents', { amount: 100, currency: 'USD', reference: made.label }, { idempotencyKey: `intent-${made.label}` });
    expect(intent.body).toEqual(made.intent);
    // A new event's webhook is signed (merchants opens the sealed webhook secret) so that the secret shown at onboarding verifies it.
    const fresh = await client.createPaymentIntent({ amount: 100, currency: 'USD', reference: `${made.label} later` });
    const webhook = await waitFor(() => receiver.received.find((received) => received.body.includes(fresh.id)), { timeout_ms: 15_000, description: `the webhook of ${fresh.id}` });
    expect(new Webhook(made.merchant.webhook_secret as string).verify(webhook.body, webhook.headers as Record<string, string>)).toMatchObject({ type: 'payment_intent.created' });
  }

  let before: Made;
  let during: Made;

  it('reads what the old key sealed once it is SECRETS_KEY_PREVIOUS, and seals anew with SECRETS_KEY', async () => {
    before = await makeData('old');
    expect([...(await sealedKeyIds()).keys()]).toEqual([keyIdOf(old_key)]);

    await restartAll({ SECRETS_KEY: new_key, SECRETS_KEY_PREVIOUS: old_key });
    await expectReadable(before);
    during = await makeData('new');
    const mixed = await sealedKeyIds();
    expect(mixed.get(keyIdOf(old_key))).toBeGreaterThan(0);
    expect(mixed.get(keyIdOf(new_key))).toBeGreaterThan(0);
  }, phase_timeout_ms);

  it('re-seals every stored secret and answer under SECRETS_KEY while the services run, with a progress line, idempotently', async () => {
    const output = await reseal();
    expect(output).toMatch(/secrets:reseal merchants\.api_keys\.secret_sealed: \d+ of \d+ re-sealed under SECRETS_KEY/);
    expect(output).toMatch(/secrets:reseal payments: [1-9]\d* re-sealed, 0 not opened/);
    expect([...(await sealedKeyIds()).keys()]).toEqual([keyIdOf(new_key)]);
    // Idempotent: a second run finds nothing left.
    const again = await reseal();
    for (const service of serviceNames) expect(again).toContain(`secrets:reseal ${service}: 0 re-sealed, 0 not opened`);
    // The running services read the re-sealed values.
    await expectReadable(before);
  }, phase_timeout_ms);

  it('then needs only the new key', async () => {
    await restartAll({ SECRETS_KEY: new_key, SECRETS_KEY_PREVIOUS: undefined });
    await expectReadable(before);
    await expectReadable(during);
  }, phase_timeout_ms);
});
