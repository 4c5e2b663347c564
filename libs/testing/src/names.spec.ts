import { randomSuffix, uniqueDatabaseName, uniqueNatsPrefix } from './names.js';

describe('unique names', () => {
  it('makes database names PostgreSQL takes unquoted, never the same twice', () => {
    const names = new Set(Array.from({ length: 1_000 }, () => uniqueDatabaseName()));
    expect(names.size).toBe(1_000);
    for (const name of names) expect(name).toMatch(/^paynet_test_[a-z0-9]{12}$/);
  });

  it('makes NATS prefixes within [A-Za-z0-9_-]{1,32}', () => {
    expect(uniqueNatsPrefix()).toMatch(/^t_[a-z0-9]{12}$/);
    expect(uniqueNatsPrefix('load')).toMatch(/^load_[a-z0-9]{12}$/);
    expect(uniqueNatsPrefix()).not.toBe(uniqueNatsPrefix());
  });

  it('refuses prefixes that would make an invalid name', () => {
    expect(() => uniqueDatabaseName('Bad-Name')).toThrow(RangeError);
    expect(() => uniqueNatsPrefix('x'.repeat(20))).toThrow(RangeError);
    expect(() => uniqueNatsPrefix('a.b')).toThrow(RangeError);
  });

  it('gives suffixes of the length asked, from [a-z0-9]', () => {
    expect(randomSuffix(1)).toMatch(/^[a-z0-9]$/);
    expect(randomSuffix(40)).toMatch(/^[a-z0-9]{40}$/);
  });
});
