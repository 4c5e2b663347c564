import { ApiError } from '@paynet/contracts';
import { z } from 'zod';
import { amount_minor, currency, parseInput } from './body.js';

const body = z.strictObject({ amount: amount_minor, currency, note: z.string().optional() });

function errorOf(input: unknown): ApiError {
  try {
    parseInput(body, input);
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected a validation error');
}

describe('request bodies', () => {
  it('turns a JSON integer amount into bigint minor units', () => {
    expect(parseInput(body, { amount: 1, currency: 'USD' })).toEqual({ amount: 1n, currency: 'USD' });
    expect(parseInput(body, { amount: 1_000_000_000_000, currency: 'JPY' }).amount).toBe(1_000_000_000_000n);
  });

  it.each([0, -1, 1.5, 1_000_000_000_001, '100', null, Number.NaN, 1e300])('refuses amount %p with 400 naming the field', (amount) => {
    const error = errorOf({ amount, currency: 'USD' });
    expect(error.status).toBe(400);
    expect(error.param).toBe('amount');
  });

  it('refuses unknown currencies and lower case', () => {
    expect(errorOf({ amount: 1, currency: 'XXX' }).param).toBe('currency');
    expect(errorOf({ amount: 1, currency: 'usd' }).param).toBe('currency');
  });

  it('refuses unknown fields with unknown_parameter, before any other problem', () => {
    const error = errorOf({ amount: 1.5, currency: 'USD', surprise: true });
    expect(error.code).toBe('unknown_parameter');
    expect(error.param).toBe('surprise');
  });

  it('reports a missing field as parameter_missing', () => {
    const error = errorOf({ currency: 'USD' });
    expect(error.code).toBe('parameter_missing');
    expect(error.param).toBe('amount');
  });

  it('refuses a body that is not an object', () => {
    expect(errorOf([1, 2]).status).toBe(400);
    expect(errorOf('x').status).toBe(400);
  });
});
