import { parseReceivedEvent } from './received-event.js';

const event = {
  id: 'evt_0123456789abcdefABCDEFGH',
  object: 'event',
  type: 'payment_intent.succeeded',
  created: 1_732_300_000,
  merchant: 'mer_0123456789abcdefABCDEFGH',
  account: 'acct_0123456789abcdefABCDEFGH',
  data: { object: { id: 'pi_0123456789abcdefABCDEFGH', object: 'payment_intent' } },
};

describe('events taken off the stream', () => {
  it('keeps the exact payload bytes and the stream sequence', () => {
    const payload = JSON.stringify(event, null, 1);
    const result = parseReceivedEvent(payload, 42);
    expect(result).toEqual({ ok: true, received: { event, payload, stream_seq: 42 } });
  });

  it('accepts a null merchant (balance updates) and a null account', () => {
    expect(parseReceivedEvent(JSON.stringify({ ...event, type: 'account.balance_updated', merchant: null }), 1).ok).toBe(true);
    expect(parseReceivedEvent(JSON.stringify({ ...event, account: null }), 1).ok).toBe(true);
  });

  it('accepts an event type it does not know yet, so nothing new is dropped', () => {
    expect(parseReceivedEvent(JSON.stringify({ ...event, type: 'payout.paid' }), 1).ok).toBe(true);
  });

  it('refuses what can never be an event', () => {
    for (const bad of ['not json', 'null', '[]', JSON.stringify({ ...event, id: 'pi_0123456789' }), JSON.stringify({ ...event, merchant: 'acct_0123456789' }), JSON.stringify({ ...event, object: 'payment_intent' }), JSON.stringify({ ...event, created: 1.5 }), JSON.stringify({ ...event, data: null }), JSON.stringify({ ...event, type: 'Payment Intent' })]) {
      expect([bad, parseReceivedEvent(bad, 1).ok]).toEqual([bad, false]);
    }
  });

  it('refuses a payload over the size bound', () => {
    const huge = JSON.stringify({ ...event, data: { object: { blob: 'x'.repeat(1_000_001) } } });
    expect(parseReceivedEvent(huge, 1)).toEqual({ ok: false, reason: 'payload too large' });
  });
});
