import type { AccountObject, MerchantObject, PaymentIntentObject } from '@paynet/contracts';
import { generateSecretsKey, serviceNames } from '@paynet/devstack';
import { PaynetClient } from '@paynet/sdk';
import { adminFetch, jsonFetch, type Stack, startStack, StreamClient, waitFor, WebhookReceiver } from '@paynet/testing';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What is never logged (docs/SECURITY.md, "Logs"): a whole payment flow, at
 * the most verbose log level, with every kind of credential used the way
 * clients use it (Authorization headers, signed requests, a token in a
 * stream URL, a webhook signed with the endpoint secret, wrong credentials
 * too), and then none of them appears in any service's log.
 */
describe('secrets never reach the logs', () => {
  const secrets_key = generateSecretsKey();
  let stack: Stack;
  let receiver: WebhookReceiver;
  const streams: StreamClient[] = [];

  beforeAll(async () => {
    [stack, receiver] = await Promise.all([startStack({ env: { LOG_LEVEL: 'trace', SECRETS_KEY: secrets_key } }), WebhookReceiver.start()]);
  });

  afterAll(async () => {
    await Promise.all(streams.map((stream) => stream.close()));
    await receiver?.close();
    await stack?.stop();
  });

  it('keeps the operator token, holder and stream tokens, API and webhook secrets, and NATS and database passwords out of every log line', async () => {
    const holder = await adminFetch<AccountObject>(stack, 'accounts', 'POST', '/v1/accounts', { currency: 'USD', owner_name: 'Log Reader' });
    const holder_token = holder.body.token as string;
    await adminFetch(stack, 'accounts', 'POST', `/v1/accounts/${holder.body.id}/deposits`, { amount: 5_000 }, { idempotencyKey: 'fund-log-reader' });
    const created = await adminFetch<MerchantObject>(stack, 'merchants', 'POST', '/v1/merchants', { name: 'Quiet Shop', currency: 'USD', webhook_url: receiver.url });
    const merchant = created.body;
    const api_secret = merchant.api_secret as string;
    const webhook_secret = merchant.webhook_secret as string;
    const client = new PaynetClient({
      apiKey: merchant.api_key as string,
      apiSecret: api_secret,
      urls: { merchants: stack.urls.merchants, payments: stack.urls.payments, push: stack.urls.push },
    });

    // Tokens travel in URLs (streams) and headers (holder, operator); one stream token is made up, one holder token is wrong.
    const { token: stream_token } = await client.createStreamToken(merchant.id);
    streams.push(await StreamClient.open(stack.urls.push, stream_token), await StreamClient.open(stack.urls.push, holder_token));
    const fake_stream_token = 'st_this_one_is_made_up_0123456789';
    expect((await StreamClient.refusal(stack.urls.push, fake_stream_token)).status).toBe(401);
    const wrong_holder_token = `${holder_token.slice(0, -4)}zzzz`;
    const refused = await jsonFetch(`${stack.urls.accounts}/v1/accounts/${holder.body.id}/balance`, { headers: { authorization: `Bearer ${wrong_holder_token}` } });
    expect(refused.status).toBe(401);
    const dashboard = await fetch(`${stack.urls.push}/dashboard?token=${encodeURIComponent(stream_token)}`);
    await dashboard.arrayBuffer();

    // A payment: signed requests, the holder's Bearer token, events and a signed webhook.
    const intent = await client.createPaymentIntent({ amount: 700, currency: 'USD', reference: 'logs-1' }, { idempotencyKey: 'logs-1' });
    const paid = await jsonFetch<PaymentIntentObject>(`${stack.urls.payments}/v1/payment-intents/${intent.id}/pay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${holder_token}`, 'idempotency-key': 'pay-logs-1' },
      body: { account: holder.body.id },
    });
    expect(paid.body.status).toBe('succeeded');
    await waitFor(() => receiver.received.length >= 2, { timeout_ms: 20_000, interval_ms: 50 });
    // A request signed with the right key and a wrong secret.
    const forged = new PaynetClient({ apiKey: merchant.api_key as string, apiSecret: `${api_secret}x`, urls: { merchants: stack.urls.merchants, payments: stack.urls.payments, push: stack.urls.push } });
    await expect(forged.retrievePaymentIntent(intent.id)).rejects.toMatchObject({ status: 401 });

    const secrets: Record<string, string> = {
      'ADMIN_TOKEN': stack.adminToken,
      'SECRETS_KEY': secrets_key,
      'the holder token': holder_token,
      'a wrong holder token': wrong_holder_token,
      'the stream token': stream_token,
      'a made-up stream token': fake_stream_token,
      'the API secret': api_secret,
      'a wrong API secret': `${api_secret}x`,
      'the webhook secret': webhook_secret,
      'the webhook secret key': webhook_secret.slice('whsec_'.length),
    };
    for (const name of serviceNames) {
      const password = stack.nats.serviceEnv(name)['NATS_PASSWORD'];
      if (password) secrets[`${name}'s NATS password`] = password;
      const database_password = new URL(stack.serviceDatabaseUrl(name)).password;
      if (database_password) secrets[`${name}'s database password`] = decodeURIComponent(database_password);
    }

    const logs = Object.fromEntries(serviceNames.map((name) => [name, readFileSync(join(stack.logDir, `${name}.log`), 'utf8')]));
    // The logs are the ones of this flow, at trace level: the requests are there, with their ids.
    expect(logs['payments']).toContain(`/v1/payment-intents/${intent.id}/pay`);
    expect(logs['push']).toContain('/dashboard?token=[redacted]');
    expect(logs['accounts']).toContain(`/v1/accounts/${holder.body.id}/balance`);
    const leaks = Object.entries(logs).flatMap(([service, text]) =>
      Object.entries(secrets).flatMap(([what, secret]) => (text.includes(secret) ? [`${what} in ${service}.log`] : [])),
    );
    expect(leaks).toEqual([]);
    expect(Object.values(logs).join('\n')).not.toMatch(/authorization|x-signature/i);
  });
});
