import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { ApiError, amount_minor_max, currencies, type Currency, ErrorCode } from '@paynet/contracts';
import { ApiBody, ApiQuery } from '@nestjs/swagger';
import { ApiErrors } from '../openapi/api-errors.js';
import { z } from 'zod';
import { exactRequestBody, integerQueryParameter } from './json-numbers.js';

/**
 * Request validation with zod: strict objects (unknown fields are 400
 * `unknown_parameter`), and money as a JSON integer 1..1e12 turned into bigint.
 */

/** A positive integer amount in minor units, as a JSON number; becomes bigint. */
export const amount_minor = z
  .number({ error: 'must be an integer number of minor units' })
  .int({ error: 'must be an integer number of minor units' })
  .min(1, { error: 'must be at least 1' })
  .max(Number(amount_minor_max), { error: `must be at most ${amount_minor_max}` })
  .transform((value) => BigInt(value));

export const currency = z.enum(currencies as [Currency, ...Currency[]], {
  error: `must be one of ${currencies.join(', ')}`,
});

export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const nul_path = findNulString(input);
  if (nul_path !== undefined) {
    throw ApiError.badRequest(ErrorCode.parameter_invalid, `Invalid ${nul_path.join('.')}: must not contain NUL characters`, nul_path.join('.'));
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  // An unknown field is the clearest thing to tell a caller, so it comes first.
  const issues = result.error.issues;
  const issue = issues.find((candidate) => candidate.code === 'unrecognized_keys') ?? issues[0];
  throw toValidationError(issue, issue ? valueAt(input, issue.path) : undefined);
}

/** Nodes visited when looking for NUL characters; a body within HTTP_BODY_LIMIT has far fewer. */
const scan_nodes_max = 100_000;

/**
 * The path of the first string (or key) holding U+0000, which PostgreSQL text
 * cannot store: refused here as bad input rather than failing in the database
 * as a 500. Iterative, so deeply nested JSON cannot overflow the stack.
 */
export function findNulString(input: unknown): PropertyKey[] | undefined {
  // Each node points at its parent: the path is built only for the one found.
  interface Node { value: unknown; key?: string; parent?: Node }
  const pathOf = (node: Node | undefined, last?: string): PropertyKey[] => {
    const path = last === undefined ? [] : [last];
    for (let at = node; at?.key !== undefined; at = at.parent) path.unshift(at.key);
    return path;
  };
  const pending: Node[] = [{ value: input }];
  for (let visited = 0; visited < scan_nodes_max; visited++) {
    const node = pending.pop();
    if (node === undefined) return undefined;
    if (typeof node.value === 'string') {
      if (node.value.includes('\u0000')) return pathOf(node);
    } else if (typeof node.value === 'object' && node.value !== null) {
      for (const [key, value] of Object.entries(node.value)) {
        if (key.includes('\u0000')) return pathOf(node, key);
        pending.push({ value, key, parent: node });
      }
    }
  }
  throw ApiError.badRequest(ErrorCode.parameter_invalid, 'The request has too many values.');
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) value = typeof value === 'object' && value !== null ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  return value;
}

function toValidationError(issue: z.core.$ZodIssue | undefined, value: unknown): ApiError {
  if (issue === undefined) return ApiError.badRequest(ErrorCode.parameter_invalid, 'Invalid request.');
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    const param = [...issue.path, key].join('.');
    return ApiError.badRequest(ErrorCode.unknown_parameter, `Received unknown parameter: ${param}`, param);
  }
  const param = issue.path.join('.');
  if (param === '') return ApiError.badRequest(ErrorCode.parameter_invalid, 'The request body must be a JSON object.');
  // Whatever zod calls it (invalid_type, invalid_value for an enum), nothing there is a missing field.
  const missing = value === undefined;
  if (missing) return ApiError.badRequest(ErrorCode.parameter_missing, `Missing required param: ${param}.`, param);
  return ApiError.badRequest(ErrorCode.parameter_invalid, `Invalid ${param}: ${issue.message}`, param);
}

// The schema travels wrapped: Nest takes any decorator argument with a
// `transform` method (as zod schemas have) for a pipe, and a `{ schema }`
// object for its own Standard Schema option.
const body_decorator = createParamDecorator(({ zod_schema }: { zod_schema: z.ZodType }, context: ExecutionContext) => {
  const request = context.switchToHttp().getRequest<{ body?: unknown; rawBody?: Buffer }>();
  const empty = request.rawBody === undefined || request.rawBody.length === 0;
  return parseInput(zod_schema, empty ? {} : bodyAsWritten(request.rawBody as Buffer, request.body));
});

/** The body with its numbers as written (`1.0` is not the integer 1); JSON.parse already accepted the text. */
function bodyAsWritten(raw: Buffer, parsed: unknown): unknown {
  try {
    return exactRequestBody(raw.toString('utf8'), parsed);
  } catch {
    // Only nesting deeper than a recursive parser can follow gets here.
    throw ApiError.badRequest(ErrorCode.parameter_invalid, 'The request body is nested too deeply.');
  }
}

const query_decorator = createParamDecorator(({ zod_schema }: { zod_schema: z.ZodType }, context: ExecutionContext) => {
  const request = context.switchToHttp().getRequest<{ query?: unknown }>();
  return parseInput(zod_schema, request.query ?? {});
});

/** `@ValidBody(schema) body: T`: the parsed, strict body, also described in the OpenAPI document. */
export const ValidBody =
  (schema: z.ZodType): ParameterDecorator =>
  (target, key, index) => {
    body_decorator({ zod_schema: schema })(target, key, index);
    if (key === undefined) return;
    const descriptor = Object.getOwnPropertyDescriptor(target, key) as PropertyDescriptor;
    ApiBody({ schema: inputJsonSchema(schema) })(target, key, descriptor);
    ApiErrors(400)(target, key, descriptor);
  };

/** `@ValidQuery(schema) query: T`: the parsed, strict query, each parameter described in the OpenAPI document. */
export const ValidQuery =
  (schema: z.ZodType): ParameterDecorator =>
  (target, key, index) => {
    query_decorator({ zod_schema: schema })(target, key, index);
    if (key === undefined) return;
    const descriptor = Object.getOwnPropertyDescriptor(target, key) as PropertyDescriptor;
    const json_schema = inputJsonSchema(schema) as { properties?: Record<string, Record<string, unknown>>; required?: string[] };
    for (const [name, property] of Object.entries(json_schema.properties ?? {})) {
      ApiQuery({ name, required: json_schema.required?.includes(name) ?? false, schema: property })(target, key, descriptor);
    }
    ApiErrors(400)(target, key, descriptor);
  };

/** What a caller sends (defaults optional), as JSON Schema for OpenAPI. */
function inputJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const json_schema = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete json_schema['$schema'];
  return json_schema;
}

/** Cursor pagination, API.md Lists. */
export const list_query = z.strictObject({
  limit: integerQueryParameter({ min: 1, max: 100 }).default(10),
  starting_after: z.string().min(1).max(100).optional(),
});
