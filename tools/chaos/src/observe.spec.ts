import { generateWebhookSecret, signWebhook } from '@paynet/signatures';
import type { History } from './history.js';
import { receivedEvents } from './observe.js';

const secret = generateWebhookSecret();
const history: History = { holders: [], merchants: [{ id: 'mer_1', fee_bps: 0, webhook_secret: secret, hot: true }], orders: [] };

function delivery(event_id: string, sent_s: number, options: { secret?: string; merchant?: string } = {}) {
  const body = JSON.stringify({ id: event_id, object: 'event', type: 'payment_intent.succeeded', merchant: options.merchant ?? 'mer_1', account: null, data: { object: { object: 'payment_intent', id: 'pi_1' } } });
  const signature = signWebhook({ secret: options.secret ?? secret, msg_id: event_id, timestamp: sent_s, payload: body });
  return { headers: { 'webhook-id': event_id, 'webhook-timestamp': String(sent_s), 'webhook-signature': signature }, body, at_ms: sent_s * 1000 + 200 };
}

describe('the webhooks the chaos receiver got', () => {
  it('are checked with their merchant secret by the clock of their arrival, however long ago that was', () => {
    const an_hour_ago_s = Math.floor(Date.now() / 1000) - 3_600;
    expect(receivedEvents(history, { received: [delivery('evt_1', an_hour_ago_s)] })).toEqual([
      { event_id: 'evt_1', type: 'payment_intent.succeeded', intent_id: 'pi_1', problem: undefined },
    ]);
  });

  it('are refused when signed with another secret or for a merchant not of the run', () => {
    const now_s = Math.floor(Date.now() / 1000);
    const [forged, foreign] = receivedEvents(history, { received: [delivery('evt_2', now_s, { secret: generateWebhookSecret() }), delivery('evt_3', now_s, { merchant: 'mer_x' })] });
    expect(forged?.problem).toBe('refused: webhook refused: invalid_signature');
    expect(foreign?.problem).toBe("refused: it names merchant mer_x, not one of the run's");
  });
});
