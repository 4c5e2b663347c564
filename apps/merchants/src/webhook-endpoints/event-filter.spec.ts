import { admitsEvent } from './event-filter.js';

describe('webhook endpoint event filters', () => {
  it('admits every event on *, a type added later included', () => {
    expect(admitsEvent(['*'], 'payment_intent.succeeded')).toBe(true);
    expect(admitsEvent(['*'], 'payout.paid')).toBe(true);
  });

  it('admits only the listed types otherwise', () => {
    expect(admitsEvent(['payment_intent.succeeded', 'refund.succeeded'], 'refund.succeeded')).toBe(true);
    expect(admitsEvent(['payment_intent.succeeded'], 'payment_intent.created')).toBe(false);
  });
});
