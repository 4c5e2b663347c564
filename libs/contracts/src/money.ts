/**
 * Money is an integer count of the currency's minor unit, held as bigint.
 * It never passes through a float: JSON numbers are accepted only when they
 * are safe integers, and messages carry amounts as decimal strings.
 */

/** ISO 4217 codes we settle, with the number of digits of the minor unit. */
export const currency_exponents = {
  USD: 2,
  EUR: 2,
  GBP: 2,
  CNY: 2,
  MYR: 2,
  SGD: 2,
  JPY: 0,
} as const;
export type Currency = keyof typeof currency_exponents;
export const currencies = Object.keys(currency_exponents) as Currency[];

/** API.md: an amount is at most 1e12 minor units. */
export const amount_minor_max = 1_000_000_000_000n;

export function isCurrency(value: unknown): value is Currency {
  return typeof value === 'string' && Object.hasOwn(currency_exponents, value);
}

/** A positive amount in minor units, 1 ..= amount_minor_max. */
export function isValidAmountMinor(amount_minor: bigint): boolean {
  return amount_minor > 0n && amount_minor <= amount_minor_max;
}

const decimal_integer = /^-?(0|[1-9][0-9]{0,30})$/;

/** Parses a decimal string from a message; throws on anything else. */
export function amountFromWire(value: string): bigint {
  if (typeof value !== 'string' || !decimal_integer.test(value)) {
    throw new TypeError(`not a decimal integer string: ${String(value)}`);
  }
  return BigInt(value);
}

export function amountToWire(amount_minor: bigint): string {
  return amount_minor.toString();
}

/**
 * A bigint as a JSON number for API answers. Every amount we answer with is
 * bounded far below 2^53 (1e12 per amount; balances are sums of bounded
 * amounts), and this asserts it rather than rounding silently.
 */
export function amountToJson(amount_minor: bigint): number {
  if (amount_minor > BigInt(Number.MAX_SAFE_INTEGER) || amount_minor < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new RangeError(`amount ${amount_minor} does not fit a JSON safe integer`);
  }
  return Number(amount_minor);
}

/**
 * A JSON integer in an answer: a number while it is a safe integer, else the
 * bigint itself, which the services write as the exact digits (API.md:
 * balances are exact JSON integers however large they grow).
 */
export type JsonInteger = number | bigint;

/** A balance (a sum of bounded amounts, so without bound) for an answer; exact at any size. */
export function balanceToJson(amount_minor: bigint): JsonInteger {
  const safe = amount_minor <= BigInt(Number.MAX_SAFE_INTEGER) && amount_minor >= BigInt(Number.MIN_SAFE_INTEGER);
  return safe ? Number(amount_minor) : amount_minor;
}

/** "12.34 USD", "500 JPY", "-0.05 EUR": major units with the currency. */
export function formatMajor(amount_minor: bigint, currency: Currency): string {
  const exponent = currency_exponents[currency];
  const negative = amount_minor < 0n;
  const digits = (negative ? -amount_minor : amount_minor).toString().padStart(exponent + 1, '0');
  const whole = digits.slice(0, digits.length - exponent);
  const fraction = exponent > 0 ? `.${digits.slice(digits.length - exponent)}` : '';
  return `${negative ? '-' : ''}${whole}${fraction} ${currency}`;
}

/** fee = floor(amount * fee_bps / 10000): rounded down to the minor unit. */
export function feeMinor(amount_minor: bigint, fee_bps: number): bigint {
  if (!Number.isInteger(fee_bps) || fee_bps < 0 || fee_bps > 10_000) {
    throw new RangeError(`fee_bps must be an integer in 0..10000, got ${fee_bps}`);
  }
  if (amount_minor < 0n) throw new RangeError('fee of a negative amount');
  return (amount_minor * BigInt(fee_bps)) / 10_000n;
}
