import { ApiError } from '@paynet/contracts';
import { z } from 'zod';
import { amount_minor, parseInput } from './body.js';
import { exactRequestBody, integerQueryParameter, parseAnswer, toJsonText } from './json-numbers.js';

const body = z.strictObject({ amount: amount_minor, fee_bps: z.number().int().min(0).max(10_000).optional() });

/** The body as a service reads it: JSON.parse first (the body parser), then the numbers as written. */
function readBody(text: string): unknown {
  return parseInput(body, exactRequestBody(text, JSON.parse(text)));
}

function refusal(read: () => unknown): ApiError {
  try {
    read();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('JSON numbers as written', () => {
  it.each(['1.0', '1e3', '1E3', '1000e0', '1.5e3', '-0.0', '9007199254740993', '1' + '0'.repeat(400), '1e400'])(
    'refuses %s in an integer field with 400 naming it, where JSON.parse would read an integer or round',
    (literal) => {
      for (const text of [`{"amount":${literal}}`, `{"amount":5,"fee_bps":${literal}}`]) {
        const error = refusal(() => readBody(text));
        expect({ status: error.status, param: error.param }).toEqual({ status: 400, param: text.includes('fee_bps') ? 'fee_bps' : 'amount' });
      }
    },
  );

  it('accepts integers written as integers, whatever else the text holds', () => {
    expect(readBody('{"amount":1000}')).toEqual({ amount: 1000n });
    expect(readBody('{"amount":1000000000000,"fee_bps":0}')).toEqual({ amount: 1_000_000_000_000n, fee_bps: 0 });
  });

  it('answers bigints as their exact digits, and reads them back exactly', () => {
    const balance = { posted: 2n ** 53n + 1n, pending: 0, available: -(10n ** 30n) };
    const text = toJsonText(balance);
    expect(text).toBe('{"posted":9007199254740993,"pending":0,"available":-1000000000000000000000000000000}');
    expect(parseAnswer(text)).toEqual(balance);
    expect(toJsonText({ plain: 1, at: new Date(0) })).toBe(JSON.stringify({ plain: 1, at: new Date(0) }));
  });

  it.each(['1.0', '1e1', '0x10', ' 5', '+5', '-1', '', '0', '101', '5 '])('refuses the integer query parameter %p', (value) => {
    expect(integerQueryParameter({ min: 1, max: 100 }).safeParse(value).success).toBe(false);
  });

  it('reads an integer query parameter of digits', () => {
    expect(integerQueryParameter({ min: 1, max: 100 }).parse('100')).toBe(100);
  });
});
