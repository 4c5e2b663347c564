import { ConnectionRegistry, mayReceive, type StreamPrincipal } from './connection-registry.js';

const merchant_a: StreamPrincipal = { kind: 'merchant', merchant_id: 'mer_AAAAAAAA', expires_at: 2_000_000_000, credential: 'mk_1' };
const merchant_b: StreamPrincipal = { kind: 'merchant', merchant_id: 'mer_BBBBBBBB', expires_at: 2_000_000_000, credential: 'mk_1' };
const holder_x: StreamPrincipal = { kind: 'holder', account_id: 'acct_XXXXXXXX', expires_at: null, credential: 'tok_x' };
const holder_y: StreamPrincipal = { kind: 'holder', account_id: 'acct_YYYYYYYY', expires_at: null, credential: 'tok_y' };

const paid_by_x_at_a = { merchant: 'mer_AAAAAAAA', account: 'acct_XXXXXXXX' };
const created_at_a = { merchant: 'mer_AAAAAAAA', account: null };
const balance_of_x = { merchant: null, account: 'acct_XXXXXXXX' };

describe('which stream connections get an event', () => {
  it('a merchant gets only events whose merchant is itself', () => {
    expect(mayReceive(merchant_a, created_at_a)).toBe(true);
    expect(mayReceive(merchant_a, paid_by_x_at_a)).toBe(true);
    expect(mayReceive(merchant_b, created_at_a)).toBe(false);
    expect(mayReceive(merchant_a, balance_of_x)).toBe(false);
  });

  it('a holder gets only events whose account is its own, including balance updates without a merchant', () => {
    expect(mayReceive(holder_x, balance_of_x)).toBe(true);
    expect(mayReceive(holder_x, paid_by_x_at_a)).toBe(true);
    expect(mayReceive(holder_x, created_at_a)).toBe(false);
    expect(mayReceive(holder_y, paid_by_x_at_a)).toBe(false);
  });

  it('routes to every matching connection once, and to nobody else', () => {
    const registry = new ConnectionRegistry<string>();
    registry.add(merchant_a, 'a1');
    registry.add(merchant_a, 'a2');
    registry.add(merchant_b, 'b1');
    registry.add(holder_x, 'x1');
    registry.add(holder_y, 'y1');
    registry.add(holder_x, 'x1');
    expect(registry.size).toBe(5);
    expect(registry.recipientsOf(paid_by_x_at_a).sort()).toEqual(['a1', 'a2', 'x1']);
    expect(registry.recipientsOf(created_at_a).sort()).toEqual(['a1', 'a2']);
    expect(registry.recipientsOf(balance_of_x)).toEqual(['x1']);
    expect(registry.recipientsOf({ merchant: 'mer_CCCCCCCC', account: null })).toEqual([]);
    expect(registry.recipientsOf({ merchant: null, account: null })).toEqual([]);
  });

  it('a closed connection gets nothing more, and removing twice is harmless', () => {
    const registry = new ConnectionRegistry<string>();
    registry.add(merchant_a, 'a1');
    registry.add(merchant_a, 'a2');
    registry.remove(merchant_a, 'a1');
    registry.remove(merchant_a, 'a1');
    registry.remove(merchant_b, 'a2');
    expect(registry.recipientsOf(created_at_a)).toEqual(['a2']);
    registry.remove(merchant_a, 'a2');
    expect(registry.size).toBe(0);
    expect(registry.recipientsOf(created_at_a)).toEqual([]);
  });

  it('agrees with mayReceive for every principal and event shape', () => {
    const principals = [merchant_a, merchant_b, holder_x, holder_y];
    const events = [paid_by_x_at_a, created_at_a, balance_of_x, { merchant: 'mer_BBBBBBBB', account: 'acct_YYYYYYYY' }];
    const registry = new ConnectionRegistry<StreamPrincipal>();
    for (const principal of principals) registry.add(principal, principal);
    for (const event of events) {
      expect(new Set(registry.recipientsOf(event))).toEqual(new Set(principals.filter((principal) => mayReceive(principal, event))));
    }
  });
});
