import { ApiError } from '@paynet/contracts';
import { z } from 'zod';
import { amount_minor, currency, findNulString, parseInput } from './body.js';
import { pathProblem } from './request-path.js';

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

  it('reports a missing enum field as parameter_missing too', () => {
    const error = errorOf({ amount: 1 });
    expect(error.code).toBe('parameter_missing');
    expect(error.param).toBe('currency');
  });

  it('refuses NUL characters (PostgreSQL text cannot hold them) anywhere, naming the field', () => {
    expect(errorOf({ amount: 1, currency: 'USD', note: 'a\u0000b' })).toMatchObject({ status: 400, code: 'parameter_invalid', param: 'note' });
    expect(findNulString({ list: [{ deep: 'x' }, { deep: '\u0000' }] })).toEqual(['list', '1', 'deep']);
    expect(findNulString({ 'key\u0000': 1 })).toEqual(['key\u0000']);
    expect(findNulString({ fine: ['text', 1, null, { deeper: true }] })).toBeUndefined();
  });

  it('walks deeply nested input without recursion', () => {
    let nested: unknown = 'end';
    for (let depth = 0; depth < 50_000; depth++) nested = [nested];
    expect(findNulString(nested)).toBeUndefined();
  });
});

describe('request paths', () => {
  it('refuses bad percent-encoding and NUL characters, and lets any other path through', () => {
    expect(pathProblem('/v1/payment-intents/%FF')).toMatch(/percent-encoded/);
    expect(pathProblem('/v1/payment-intents/%')).toMatch(/percent-encoded/);
    expect(pathProblem('/v1/payment-intents/pi_%00')).toMatch(/NUL/);
    expect(pathProblem('/v1/payment-intents/pi_%E2%9C%93')).toBeUndefined();
    expect(pathProblem('/v1/payment-intents/..%2Fx')).toBeUndefined();
  });
});
