import { connect, type ConnectionOptions, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { ApiError, Broadcasts, type Currency, ErrorCode, type MerchantPrincipal, natsNames, newId, randomToken, Subjects } from '@paynet/contracts';
import { createHmac, randomBytes } from 'node:crypto';

/**
 * Stands in for merchants and accounts on the prefixed NATS subjects, with
 * Nest's wire format: requests `{ pattern, data, id }`, replies
 * `{ id, response, isDisposed }` or `{ id, err: <error envelope>, isDisposed }`.
 */
export interface FakeMerchant {
  merchant_id: string;
  api_key: string;
  webhook_secret: string;
  webhook_url: string | null;
  stream_token: string;
  account_id: string;
}

/** Standard Webhooks signature, as merchants makes it (node:crypto; libs/signatures is not ready yet). */
export function standardWebhookSignature(secret: string, msg_id: string, timestamp: number, payload: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${msg_id}.${timestamp}.${payload}`).digest('base64')}`;
}

type Handler = (data: Record<string, unknown>) => unknown;

export class FakeServices {
  readonly merchants = new Map<string, FakeMerchant>();
  /** Holder account token -> account id. */
  readonly holders = new Map<string, string>();
  sign_requests = 0;
  /** While set, merchants' endpoint lookups (which push's recorder makes before it records an event) wait for it. */
  private endpoint_lookups_held: Promise<void> | undefined;

  private constructor(private readonly nc: NatsConnection, private readonly prefix: string) {}

  /** `access`: how to log in (the stack's operator user when its NATS has permissions on). */
  static async start(nats_url: string, prefix: string, access: Partial<ConnectionOptions> = {}): Promise<FakeServices> {
    const nc = await connect({ servers: nats_url, name: 'push-test-fakes', ...access });
    const fakes = new FakeServices(nc, prefix);
    fakes.respond(Subjects.merchants.merchantsGet, (data) => fakes.principal(fakes.merchant(String(data['merchant_id']))));
    fakes.respond(Subjects.merchants.requestsAuthenticate, (data) => {
      const found = [...fakes.merchants.values()].find((merchant) => merchant.api_key === data['api_key']);
      if (!found) throw ApiError.unauthorized(ErrorCode.invalid_api_key, 'Invalid API key.');
      return { ...fakes.principal(found), api_key: { id: found.api_key, expires_at: null } };
    });
    fakes.respond(Subjects.merchants.streamTokensVerify, (data) => {
      const found = [...fakes.merchants.values()].find((merchant) => merchant.stream_token === data['token']);
      if (!found) throw ApiError.unauthorized(ErrorCode.invalid_token, 'Invalid or expired stream token.');
      return { merchant_id: found.merchant_id, expires_at: Math.floor(Date.now() / 1_000) + 3_600, credential: found.api_key };
    });
    fakes.respond(Subjects.merchants.webhooksSign, (data) => {
      const webhooks = data['webhooks'] as Record<string, unknown>[];
      fakes.sign_requests += webhooks.length;
      return {
        signed: webhooks.map((webhook) => {
          const merchant = fakes.merchants.get(String(webhook['merchant_id']));
          if (merchant === undefined) return { merchant_missing: true };
          return {
            url: merchant.webhook_url,
            signature: standardWebhookSignature(merchant.webhook_secret, String(webhook['msg_id']), Number(webhook['timestamp']), String(webhook['payload'])),
          };
        }),
      };
    });
    // Each fake merchant has one endpoint at most, admitting every event: its webhook_url.
    fakes.respond(Subjects.merchants.webhookEndpointsEnabled, async (data) => {
      await fakes.endpoint_lookups_held;
      const known = (data['merchant_ids'] as string[]).flatMap((merchant_id) => {
        const merchant = fakes.merchants.get(merchant_id);
        return merchant === undefined ? [] : [merchant];
      });
      return {
        merchants: known.map((merchant) => ({
          merchant_id: merchant.merchant_id,
          endpoints: merchant.webhook_url === null ? [] : [{ id: `we_${merchant.merchant_id.slice('mer_'.length)}`, url: merchant.webhook_url, enabled_events: ['*'] }],
        })),
      };
    });
    fakes.respond(Subjects.merchants.webhookEndpointsStates, (data) => {
      const merchant = fakes.merchant(String(data['merchant_id']));
      const ids = merchant.webhook_url === null ? [] : (data['endpoint_ids'] as string[]);
      return { enabled: ids.map((id) => ({ id, enabled_since_ms: 0 })) };
    });
    fakes.respond(Subjects.accounts.tokensVerify, (data) => {
      const account_id = fakes.holders.get(String(data['token']));
      if (!account_id) throw ApiError.unauthorized(ErrorCode.invalid_token, 'Invalid account token.');
      return { account_id, currency: 'USD', credential: `tok_${account_id}` };
    });
    await nc.flush();
    return fakes;
  }

  addMerchant(webhook_url: string | null): FakeMerchant {
    const merchant: FakeMerchant = {
      merchant_id: newId('mer'),
      api_key: newId('mk'),
      webhook_secret: `whsec_${randomBytes(24).toString('base64')}`,
      webhook_url,
      stream_token: `st_${randomToken(32)}`,
      account_id: newId('acct'),
    };
    this.merchants.set(merchant.merchant_id, merchant);
    return merchant;
  }

  /** As merchants does after an endpoint change: the new URL (null: no endpoint), then the change broadcast every cache hears. */
  async setWebhookUrl(merchant: FakeMerchant, webhook_url: string | null): Promise<void> {
    merchant.webhook_url = webhook_url;
    this.nc.publish(natsNames(this.prefix).request(Broadcasts.merchantsChanged), JSON.stringify({ merchant_id: merchant.merchant_id }));
    await this.nc.flush();
  }

  addHolder(): { account_id: string; token: string } {
    const holder = { account_id: newId('acct'), token: `at_${randomToken(40)}` };
    this.holders.set(holder.token, holder.account_id);
    return holder;
  }

  async close(): Promise<void> {
    await this.nc.drain();
  }

  private merchant(merchant_id: string): FakeMerchant {
    const merchant = this.merchants.get(merchant_id);
    if (!merchant) throw ApiError.notFound('merchant', merchant_id);
    return merchant;
  }

  private principal(merchant: FakeMerchant): MerchantPrincipal {
    return {
      merchant_id: merchant.merchant_id,
      name: `Merchant ${merchant.merchant_id}`,
      currency: 'USD' as Currency,
      fee_bps: 0,
      account_id: merchant.account_id,
      webhook_url: merchant.webhook_url,
    };
  }

  /** Holds push's recorder (it asks for an event's endpoints before recording it) until the returned function is called. */
  holdEndpointLookups(): () => void {
    let release: () => void = () => undefined;
    this.endpoint_lookups_held = new Promise<void>((resolve) => (release = resolve));
    return () => {
      this.endpoint_lookups_held = undefined;
      release();
    };
  }

  private respond(pattern: string, handler: Handler): void {
    this.nc.subscribe(natsNames(this.prefix).request(pattern), {
      callback: (error, message: Msg) => {
        if (error) return;
        const request = message.json<{ id: string; data: Record<string, unknown> }>();
        Promise.resolve()
          .then(() => handler(request.data))
          .then(
            (response) => message.respond(JSON.stringify({ id: request.id, response, isDisposed: true })),
            (thrown: unknown) => {
              const err = thrown instanceof ApiError ? thrown.toEnvelope() : ApiError.internal().toEnvelope();
              message.respond(JSON.stringify({ id: request.id, err, isDisposed: true }));
            },
          );
      },
    });
  }
}
