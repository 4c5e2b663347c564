import type { Msg, NatsConnection, Subscription, SubscriptionOptions } from '@nats-io/transport-node';
import { parseMerchantChange } from './merchant-changes.js';
import { subscribeParsed } from './subscribe-parsed.js';

/** Delivers what a test sends to the callback subscribeParsed registered, as nats.js would. */
function connection(): { nats: NatsConnection; deliver(data: string | Error): void } {
  let callback: SubscriptionOptions['callback'];
  const nats = {
    subscribe: (_subject: string, options: SubscriptionOptions) => {
      callback = options.callback;
      return {} as Subscription;
    },
  } as unknown as NatsConnection;
  const deliver = (data: string | Error) => {
    if (data instanceof Error) return callback?.(data as never, {} as Msg);
    const message = { json: () => JSON.parse(data) as unknown } as Msg;
    return callback?.(null, message);
  };
  return { nats, deliver };
}

describe('subscribeParsed', () => {
  it('hands on what parses, warns of what does not (bad JSON, wrong shape) and of subscription errors', () => {
    const { nats, deliver } = connection();
    const warnings: string[] = [];
    const heard: string[] = [];
    subscribeParsed(nats, 'x.merchants.changed', 'merchant change', { warn: (_context: unknown, text: string) => warnings.push(text) }, parseMerchantChange, (id) => heard.push(id));

    deliver('{"merchant_id":"m_1"}');
    deliver('not json');
    deliver('{"merchant_id":42}');
    deliver('[]');
    deliver(new Error('permissions violation'));
    deliver('{"merchant_id":"m_2","extra":true}');

    expect(heard).toEqual(['m_1', 'm_2']);
    expect(warnings).toEqual([
      'ignored a malformed merchant change',
      'ignored a malformed merchant change',
      'ignored a malformed merchant change',
      'merchant change subscription error',
    ]);
  });
});
