import fc from 'fast-check';
import { amountFromWire, amountToWire, feeMinor, formatMajor, isValidAmountMinor } from './money.js';

describe('money', () => {
  it('formats minor units as major units for the currency', () => {
    expect(formatMajor(1234n, 'USD')).toBe('12.34 USD');
    expect(formatMajor(5n, 'EUR')).toBe('0.05 EUR');
    expect(formatMajor(500n, 'JPY')).toBe('500 JPY');
    expect(formatMajor(-1n, 'USD')).toBe('-0.01 USD');
  });

  it('accepts amounts from one minor unit to 1e12, and nothing outside', () => {
    expect(isValidAmountMinor(0n)).toBe(false);
    expect(isValidAmountMinor(1n)).toBe(true);
    expect(isValidAmountMinor(1_000_000_000_000n)).toBe(true);
    expect(isValidAmountMinor(1_000_000_000_001n)).toBe(false);
    expect(isValidAmountMinor(-5n)).toBe(false);
  });

  it('round-trips any bigint through the wire form', () => {
    fc.assert(fc.property(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), (n) => amountFromWire(amountToWire(n)) === n));
  });

  it('refuses wire amounts that are not plain decimal integers', () => {
    for (const bad of ['', '1.5', '1e3', '0x10', ' 1', '01', '+1', 'NaN']) {
      expect(() => amountFromWire(bad)).toThrow(TypeError);
    }
  });

  it('rounds the fee down and never exceeds the amount', () => {
    expect(feeMinor(999n, 100)).toBe(9n);
    expect(feeMinor(1n, 9_999)).toBe(0n);
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 12n }), fc.integer({ min: 0, max: 10_000 }), (amount, bps) => {
        const fee = feeMinor(amount, bps);
        return fee >= 0n && fee <= amount && fee * 10_000n <= amount * BigInt(bps) && (fee + 1n) * 10_000n > amount * BigInt(bps);
      }),
    );
  });
});
