import fc from 'fast-check';
import type { JsonSchema, Route } from './routes.js';

/**
 * Fuzz cases: one request each, on one route, carrying a fault the API must
 * refuse with a 4xx (a route that changes state is never sent a request it
 * could accept), plus noise that may or may not matter. GETs may carry no
 * fault at all: they change nothing either way.
 */

export interface Fixtures {
  holder_id: string;
  merchant_id: string;
  /** Real ids for path parameters, by the path segment before the parameter. */
  ids_by_segment: Record<string, string[]>;
}

export type AuthFault =
  | 'missing'
  | 'junk_bearer'
  | 'other_scheme'
  | 'junk_first_of_two_authorizations'
  | 'missing_signature_header'
  | 'broken_signature'
  | 'stale_timestamp'
  | 'bad_timestamp'
  | 'bad_nonce'
  | 'unknown_key'
  | 'two_api_keys';

export interface FuzzCase {
  route: string;
  service: Route['service'];
  method: string;
  auth: Route['auth'];
  /** The principal of a bearer route: operator or holder. */
  bearer: 'operator' | 'holder';
  /** Path with query, exactly as sent (percent-encoded or not). */
  path: string;
  headers: [string, string][];
  body?: Buffer;
  auth_fault?: AuthFault;
  /** What makes the request one the API must refuse; 'none' only on GETs. */
  fault: string;
}

/** Lone surrogates, NUL, right-to-left overrides, emoji, combining marks, long runs. */
const odd_texts = [
  '\uD800',
  'a\uDFFFb',
  '\u0000',
  'x\u0000y',
  '\u202Etxt.exe',
  '\u200F\u05D0\u05D1',
  '😀'.repeat(200),
  'e\u0301\u0301\u0301',
  '\uFEFF',
  '\uFFFF\uFFFE',
  'a'.repeat(5_000),
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
  '<script>',
  "' OR 1=1 --",
  '../../etc/passwd',
  '%00',
  '{{7*7}}',
];
export const oddText = fc.oneof(
  fc.constantFrom(...odd_texts),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
);

/** Header values Node will send: tab, printable ASCII and Latin-1 bytes. */
const headerText = fc.string({
  unit: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0xa0, max: 0xff }), fc.constant(0x09)).map((code) => String.fromCharCode(code)),
  maxLength: 60,
});

/**
 * Number literals no integer field may take: fractions, exponents, past 2^53,
 * past any bigint a field allows (0 and negatives are left out: some integer
 * fields take them).
 */
const bad_integer_literals = ['1.0', '1e3', '1E3', '100.00', '5e-1', '0.5', '0.0', '-0.0', '9007199254740993', '18446744073709551617', '1' + '0'.repeat(400), '1e400', '-1e400', '1e-400'];

/** Raw JSON for a value of the wrong type for `schema`. */
function wrongTypeLiterals(schema: JsonSchema): string[] {
  const types = typesOf(schema);
  const all = ['"100"', 'true', 'null', '[]', '{}', '[1]', '{"a":1}', '1.5', '-7'];
  if (types.includes('integer') || types.includes('number')) return all.filter((literal) => !/^-?[0-9]/.test(literal) || literal.includes('.')).concat(bad_integer_literals);
  if (types.includes('string') || schema.enum) return ['1', 'true', '[]', '{}', '["x"]', '1.0', '1e3'];
  if (types.includes('array')) return ['1', '"x"', '{}', 'true'];
  return ['"x"', '1', '[]'];
}

function typesOf(schema: JsonSchema): string[] {
  if (schema.anyOf) return schema.anyOf.flatMap(typesOf);
  if (schema.type === undefined) return [];
  return Array.isArray(schema.type) ? schema.type : [schema.type];
}

/** A value `schema` accepts, as raw JSON (the base the faults are applied to). */
function plausibleLiteral(name: string, schema: JsonSchema, fixtures: Fixtures): string {
  if (name === 'account') return JSON.stringify(fixtures.holder_id);
  if (name === 'currency') return '"USD"';
  if (schema.enum && schema.enum.length > 0) return JSON.stringify(schema.enum[0]);
  const types = typesOf(schema);
  if (types.includes('integer') || types.includes('number')) return String(Math.max(schema.minimum ?? 1, 1));
  if (types.includes('boolean')) return 'true';
  if (types.includes('array')) return '[]';
  if (name.includes('url')) return '"https://example.com/hook"';
  return JSON.stringify('x'.repeat(Math.max(schema.minLength ?? 1, 1)));
}

const objectText = (entries: [string, string][]) => `{${entries.map(([key, literal]) => `${JSON.stringify(key)}:${literal}`).join(',')}}`;

/** A body with one fault, as raw bytes. */
function faultyBody(schema: JsonSchema, fixtures: Fixtures): fc.Arbitrary<{ fault: string; body: Buffer }> {
  const properties = Object.entries(schema.properties ?? {});
  const required = new Set(schema.required ?? []);
  const base = fc
    .subarray(properties.filter(([name]) => !required.has(name)))
    .map((optional) => properties.filter(([name]) => required.has(name)).concat(optional))
    .map((chosen) => chosen.map(([name, property]): [string, string] => [name, plausibleLiteral(name, property, fixtures)]));
  const noisy = fc.tuple(base, fc.array(oddText, { maxLength: 2 })).map(([entries, texts]) =>
    // Odd text in free-text fields is noise: it may be valid there.
    entries.map(([name, literal], index): [string, string] => {
      const property = schema.properties?.[name] ?? {};
      const free = typesOf(property).includes('string') && !property.enum && !property.pattern && !['currency', 'account'].includes(name) && !name.includes('url');
      return free && texts[index] !== undefined ? [name, JSON.stringify(texts[index])] : [name, literal];
    }),
  );
  const bytes = (text: string) => Buffer.from(text, 'utf8');
  const replaced = (entries: [string, string][], name: string, literal: string): [string, string][] =>
    entries.some(([key]) => key === name) ? entries.map(([key, value]) => [key, key === name ? literal : value]) : [...entries, [name, literal]];
  const options: fc.Arbitrary<{ fault: string; body: Buffer }>[] = [
    fc.tuple(noisy, oddText.filter((key) => !(key in (schema.properties ?? {})) && key.length > 0), fc.constantFrom('1', '"x"', 'null', '{}')).map(([entries, key, literal]) => ({
      fault: 'unknown_field',
      body: bytes(objectText([...entries, [key, literal]])),
    })),
    fc.constantFrom('[]', '"x"', '1', 'null', 'true', '[{}]', '1.0').map((text) => ({ fault: 'not_an_object', body: bytes(text) })),
    fc.constantFrom('{', '{"a":1', '{"a":1,}', "{'a':1}", 'nul', '{"a":undefined}', '01', '{"a":1}}', '\u00ff').map((text) => ({ fault: 'bad_json', body: bytes(text) })),
    fc.tuple(noisy, fc.integer({ min: 70_000, max: 200_000 })).map(([entries, size]) => ({ fault: 'oversized', body: bytes(objectText([...entries, ['padding', JSON.stringify('x'.repeat(size))]])) })),
    fc.constantFrom(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]), Buffer.from([0xff, 0xfe, 0x7b, 0x7d]), Buffer.from([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d])).map((body) => ({
      fault: 'invalid_utf8',
      body,
    })),
  ];
  if (properties.length > 0) {
    const property = fc.constantFrom(...properties);
    options.push(
      fc.tuple(noisy, property).chain(([entries, [name, property_schema]]) =>
        fc.constantFrom(...wrongTypeLiterals(property_schema)).map((literal) => ({ fault: `wrong_type:${name}`, body: bytes(objectText(replaced(entries, name, literal))) })),
      ),
      fc.tuple(noisy, property, fc.integer({ min: 50, max: 20_000 })).map(([entries, [name], depth]) => ({
        fault: `deep_nesting:${name}`,
        body: bytes(objectText(replaced(entries, name, '['.repeat(depth) + ']'.repeat(depth)))),
      })),
      fc.tuple(noisy, property).map(([entries, [name]]) => ({ fault: `nul_or_duplicate:${name}`, body: bytes(objectText([...replaced(entries, name, '"a\\u0000b"')])) })),
    );
    const integers = properties.filter(([, property_schema]) => typesOf(property_schema).some((type) => type === 'integer' || type === 'number'));
    if (integers.length > 0) {
      options.push(
        fc.tuple(noisy, fc.constantFrom(...integers), fc.constantFrom(...bad_integer_literals)).map(([entries, [name], literal]) => ({
          fault: `integer_literal:${name}=${literal.length > 24 ? `${literal.slice(0, 8)}…(${literal.length})` : literal}`,
          body: bytes(objectText(replaced(entries, name, literal))),
        })),
      );
    }
  }
  return fc.oneof(...options);
}

/** A path segment as sent: percent-encoded UTF-8 (lone surrogates included, byte by byte). */
function percentEncode(text: string): string {
  let out = '';
  for (const char of text) {
    const code = char.codePointAt(0) as number;
    if (code >= 0xd800 && code <= 0xdfff) out += `%${(0xe0 | (code >> 12)).toString(16)}%${(0x80 | ((code >> 6) & 0x3f)).toString(16)}%${(0x80 | (code & 0x3f)).toString(16)}`.toUpperCase();
    else if (/[A-Za-z0-9_.~-]/.test(char)) out += char;
    else out += [...Buffer.from(char, 'utf8')].map((byte) => `%${byte.toString(16).padStart(2, '0').toUpperCase()}`).join('');
  }
  return out;
}

const badPathSegment = fc.oneof(
  fc.constantFrom('pi_ZZZZZZZZZZZZZZZZZZZZZZZZ', 'acct_ZZZZZZZZZZZZZZZZZZZZZZZZ', 'mer_ZZZZZZZZZZZZZZZZZZZZZZZZ', 'evt_ZZZZZZZZZZZZZZZZZZZZZZZZ', 'we_ZZZZZZZZZZZZZZZZZZZZZZZZ', 'x'),
  fc.constantFrom('%', '%zz', '%C0%AF', '%ED%A0%80', '%00', 'a%00b', '%FF', '..', '.', '%2e%2e', '%2F', 'a'.repeat(20_000), '1e3', '-1', '0x10'),
  oddText.filter((text) => text.length > 0).map(percentEncode),
);

const badQueryValue = fc.oneof(
  fc.constantFrom('0', '101', '1.0', '1e1', '-1', 'abc', '', '%20', '0x10', '9'.repeat(400), '%00', '%', '%ZZ', '1&limit=2', '10%00'),
  oddText.map(percentEncode),
);

const badIdempotencyKey = fc.constantFrom('k'.repeat(256), 'a b', 'tab\tkey', '\u00e9t\u00e9', '\u00ff');

export interface FuzzContext {
  routes: Route[];
  fixtures: Fixtures;
}

function pathFor(route: Route, fixtures: Fixtures, segment: fc.Arbitrary<string> | undefined): fc.Arbitrary<string> {
  const parts = route.template.split('/');
  const real = parts.map((part, index) => {
    if (!part.startsWith('{')) return fc.constant(part);
    const ids = fixtures.ids_by_segment[parts[index - 1] ?? ''] ?? ['x'];
    return fc.constantFrom(...ids);
  });
  const params = parts.flatMap((part, index) => (part.startsWith('{') ? [index] : []));
  if (segment === undefined || params.length === 0) return fc.tuple(...real).map((chosen) => chosen.join('/'));
  return fc.tuple(fc.tuple(...real), fc.constantFrom(...params), segment).map(([chosen, at, bad]) => chosen.map((part, index) => (index === at ? bad : part)).join('/'));
}

function queryFor(route: Route, faulty: boolean): fc.Arbitrary<string> {
  const names = route.query_params.map((parameter) => parameter.name);
  const valid = fc.subarray(names.filter((name) => name === 'limit')).map((chosen) => chosen.map((name) => `${name}=5`));
  if (!faulty) return valid.map((pairs) => (pairs.length > 0 ? `?${pairs.join('&')}` : ''));
  const bad = fc.oneof(
    ...(names.length > 0 ? [fc.tuple(fc.constantFrom(...names), badQueryValue).map(([name, value]) => `${name}=${value}`)] : []),
    fc.tuple(oddText.filter((name) => name.length > 0), fc.constantFrom('1', '')).map(([name, value]) => `${percentEncode(name)}=${value}`),
    fc.constantFrom('limit=1&limit=2', 'limit[]=1', 'limit[a]=1', '&&&', '=', '%'),
  );
  return fc.tuple(valid, bad).map(([pairs, pair]) => `?${[...pairs, pair].join('&')}`);
}

function authFaults(route: Route): AuthFault[] {
  if (route.auth === 'bearer') return ['missing', 'junk_bearer', 'other_scheme', 'junk_first_of_two_authorizations'];
  if (route.auth === 'merchant') {
    return ['missing', 'junk_bearer', 'missing_signature_header', 'broken_signature', 'stale_timestamp', 'bad_timestamp', 'bad_nonce', 'unknown_key', 'two_api_keys'];
  }
  return [];
}

/** Headers that are noise: odd values in harmless headers, duplicates of them. */
const noiseHeaders = fc.array(
  fc.oneof(
    headerText.map((value): [string, string] => ['x-fuzz', value]),
    fc.constantFrom<[string, string]>(['accept', 'text/html'], ['accept', '*/*;q=0'], ['x-request-id', 'a'], ['x-request-id', 'b'], ['accept-charset', 'utf-16']),
  ),
  { maxLength: 3 },
);

/** Every way a case may be faulty on `route`; GETs may also be fault-free. */
function caseFor(route: Route, context: FuzzContext): fc.Arbitrary<FuzzCase> {
  const { fixtures } = context;
  const reading = route.method === 'GET';
  type Part = { fault: string; path: fc.Arbitrary<string>; query: fc.Arbitrary<string>; body?: fc.Arbitrary<Buffer>; auth_fault?: fc.Arbitrary<AuthFault>; headers?: fc.Arbitrary<[string, string][]> };
  const clean = { path: pathFor(route, fixtures, undefined), query: queryFor(route, false) };
  const parts: fc.Arbitrary<Part>[] = [];
  const faults = authFaults(route);
  if (faults.length > 0) parts.push(fc.constant({ ...clean, fault: 'auth', auth_fault: fc.constantFrom(...faults) }));
  if (route.path_params.length > 0) parts.push(fc.constant({ ...clean, fault: 'path', path: pathFor(route, fixtures, badPathSegment) }));
  // Only reads: a route that changes state may ignore a query it does not declare.
  if (reading) parts.push(fc.constant({ ...clean, fault: 'query', query: queryFor(route, true) }));
  if (route.body) {
    parts.push(faultyBody(route.body, fixtures).map((faulty) => ({ ...clean, fault: `body:${faulty.fault}`, body: fc.constant(faulty.body) })));
  }
  if (route.idempotent) {
    parts.push(
      fc.oneof(
        badIdempotencyKey.map((key) => ({ ...clean, fault: 'idempotency_key', headers: fc.constant<[string, string][]>([['idempotency-key', key]]) })),
        fc.constant({ ...clean, fault: 'idempotency_key_twice', headers: fc.constant<[string, string][]>([['idempotency-key', 'one'], ['idempotency-key', 'two']]) }),
      ),
    );
  }
  parts.push(fc.constant({ ...clean, fault: 'oversized_header', headers: fc.constant<[string, string][]>([['x-fuzz-large', 'h'.repeat(20_000)]]) }));
  if (reading) parts.push(fc.constant({ ...clean, fault: 'none' }));
  return fc.oneof(...parts).chain((part) =>
    fc
      .record({
        path: part.path,
        query: part.query,
        body: part.body ?? (reading ? fc.constant(undefined) : fc.option(fc.constantFrom(Buffer.from('{}'), Buffer.from('')), { nil: undefined })),
        auth_fault: part.auth_fault ?? fc.constant(undefined),
        fault_headers: part.headers ?? fc.constant([]),
        noise: noiseHeaders,
        bearer: fc.constantFrom<'operator' | 'holder'>('operator', 'holder'),
        key: route.idempotent ? fc.option(fc.uuid(), { nil: undefined }) : fc.constant(undefined),
      })
      .map((chosen): FuzzCase => {
        const headers: [string, string][] = [...chosen.noise];
        if (chosen.key !== undefined && part.fault !== 'idempotency_key' && part.fault !== 'idempotency_key_twice') headers.push(['idempotency-key', chosen.key]);
        headers.push(...chosen.fault_headers);
        if (chosen.body !== undefined) headers.push(['content-type', 'application/json']);
        return {
          route: `${route.method} ${route.template} (${route.service})`,
          service: route.service,
          method: route.method,
          auth: route.auth,
          bearer: chosen.bearer,
          path: `${chosen.path}${chosen.query}`,
          headers,
          body: chosen.body,
          auth_fault: chosen.auth_fault,
          fault: part.fault,
        };
      }),
  );
}

export function fuzzCase(context: FuzzContext): fc.Arbitrary<FuzzCase> {
  return fc.constantFrom(...context.routes).chain((route) => caseFor(route, context));
}
