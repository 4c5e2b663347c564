import { IdPrefix, isId, newId, randomToken } from './ids.js';

describe('ids', () => {
  it('makes ids of the type prefix and 24 base62 characters that isId accepts', () => {
    const id = newId(IdPrefix.transaction);
    expect(id).toMatch(/^txn_[0-9A-Za-z]{24}$/);
    expect(isId(IdPrefix.transaction, id)).toBe(true);
    expect(isId(IdPrefix.account, id)).toBe(false);
  });

  it('never repeats an id across many pool refills', () => {
    const count = 100_000;
    const ids = new Set(Array.from({ length: count }, () => newId(IdPrefix.event)));
    expect(ids.size).toBe(count);
  });

  it('uses every character of the alphabet and only those', () => {
    const seen = new Set(Array.from({ length: 2_000 }, () => randomToken()).join(''));
    expect(seen.size).toBe(62);
    expect([...seen].every((character) => /[0-9A-Za-z]/.test(character))).toBe(true);
  });

  it('makes tokens of any length, also longer than the random pool', () => {
    for (const length of [1, 24, 64, 3_000]) expect(randomToken(length)).toHaveLength(length);
  });
});
