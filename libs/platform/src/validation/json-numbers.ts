import type { NextFunction, Request, Response } from 'express';
import { parse, stringify } from 'lossless-json';
import { z } from 'zod';

/**
 * JSON numbers exactly as written. JSON.parse turns `1.0` and `1e3` into the
 * integers 1 and 1000 and rounds integers past 2^53, so an integer field
 * could not tell them from `1` and `1000`; and JSON.stringify refuses bigint.
 * API.md: a number with a fraction or an exponent is refused in every integer
 * field, and balances are answered as exact integers however large.
 */

/** A number written with a fraction or an exponent: never an integer field's value (zod's z.number() refuses it). */
export class NonIntegerNumber {
  constructor(readonly literal: string) {}

  toJSON(): string {
    return this.literal;
  }
}

const integer_literal = /^-?(0|[1-9][0-9]*)$/;
/** Text JSON.parse may have read inexactly: a digit before a fraction or an exponent, or 16 digits in a row. */
const inexact_number_hint = /[0-9][.eE]|[0-9]{16}/;

function exactInteger(literal: string): number | bigint {
  const value = Number(literal);
  return Number.isSafeInteger(value) ? value : BigInt(literal);
}

/**
 * A request body as written: integers past 2^53 as bigint, fractions and
 * exponents as NonIntegerNumber. `parsed` (JSON.parse's reading) is answered
 * as is when the text holds no number JSON.parse could have changed.
 */
export function exactRequestBody(text: string, parsed: unknown): unknown {
  if (!inexact_number_hint.test(text)) return parsed;
  return parse(text, null, (literal) => (integer_literal.test(literal) ? exactInteger(literal) : new NonIntegerNumber(literal)));
}

/** A stored answer read back: integers past 2^53 stay bigint, so a replay is as exact as the first answer. */
export function parseAnswer(text: string): unknown {
  return parse(text, null, (literal) => (integer_literal.test(literal) ? exactInteger(literal) : Number(literal)));
}

/** JSON text with every bigint as its exact digits; the native serializer unless a bigint is there. */
export function toJsonText(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (error) {
    if (!(error instanceof TypeError && error.message.includes('BigInt'))) throw error;
    return stringify(value) ?? 'null';
  }
}

/** Express: `response.json` writes bigints exactly (Nest answers every object through it). */
export function exactJsonAnswersMiddleware(_request: Request, response: Response, next: NextFunction): void {
  response.json = function json(this: Response, body: unknown): Response {
    if (!this.get('Content-Type')) this.type('application/json');
    return this.send(toJsonText(body));
  };
  next();
}

/**
 * An integer query parameter: decimal digits only (`1.0`, `1e1`, `0x10`,
 * spaces and signs are refused, where z.coerce.number() would take them).
 */
export function integerQueryParameter(bounds: { min: number; max: number }) {
  const error = { error: `must be an integer from ${bounds.min} to ${bounds.max}` };
  return z
    .string()
    .regex(/^[0-9]{1,15}$/, error)
    .transform(Number)
    .pipe(z.number().int().min(bounds.min, error).max(bounds.max, error));
}
