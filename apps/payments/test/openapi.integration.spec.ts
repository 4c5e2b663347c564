import { type InProcessStack, jsonFetch, startInProcess } from '@paynet/testing';
import { AppModule } from '../src/app.module.js';
import { payments_config_schema } from '../src/config.js';

interface Operation {
  parameters?: { name: string; in: string; required?: boolean }[];
  requestBody?: { content?: Record<string, { schema?: { type?: string; properties?: Record<string, unknown>; additionalProperties?: unknown } }> };
  responses?: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
}
interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, { properties?: { error?: { required?: string[]; properties?: Record<string, unknown> } } }> };
}

/**
 * Every public route, as the OpenAPI document must describe it. A new route
 * gets a row here (the first test fails until it does). `body` names the
 * fields of its strict JSON body (none: a body that must be empty, as
 * cancel's); a route without `body` takes none. `errors` are the statuses it
 * can answer: 401/403/429/503 from Auth, 400 from ValidBody/ValidQuery and
 * Idempotent, 409/422 from Idempotent, the rest from the route's own refusals.
 */
const routes: Record<string, { body?: string[]; query?: string[]; errors: number[]; idempotency_key?: 'required' | 'optional' }> = {
  'post /v1/payment-intents': {
    body: ['amount', 'currency', 'reference', 'description', 'capture_method', 'expires_in'],
    errors: [400, 401, 403, 409, 422, 429, 503],
    idempotency_key: 'required',
  },
  'get /v1/payment-intents': { query: ['limit', 'starting_after', 'status'], errors: [400, 401, 403, 429, 503] },
  'get /v1/payment-intents/{id}': { errors: [401, 403, 404, 429, 503] },
  'post /v1/payment-intents/{id}/pay': { body: ['account'], errors: [400, 401, 402, 403, 404, 409, 422, 429, 503], idempotency_key: 'required' },
  // 400 also for an amount over the one held (amount_too_large).
  'post /v1/payment-intents/{id}/capture': { body: ['amount'], errors: [400, 401, 403, 404, 409, 422, 429, 503], idempotency_key: 'required' },
  'post /v1/payment-intents/{id}/cancel': { body: [], errors: [400, 401, 403, 404, 409, 422, 429, 503], idempotency_key: 'optional' },
  // 400 also for more than is left to refund (amount_too_large); 402 when the merchant's balance cannot cover it.
  'post /v1/payment-intents/{id}/refunds': { body: ['amount', 'reason'], errors: [400, 401, 402, 403, 404, 409, 422, 429, 503], idempotency_key: 'required' },
};

describe('payments OpenAPI at /docs and /docs-json', () => {
  let stack: InProcessStack;
  let document: OpenApiDocument;

  beforeAll(async () => {
    stack = await startInProcess([{ service: 'payments', schema: payments_config_schema, module: AppModule.forConfig }]);
    const answer = await jsonFetch<OpenApiDocument>(`${stack.urls['payments']}/docs-json`);
    expect(answer.status).toBe(200);
    document = answer.body;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  function operation(route: string): Operation {
    const [method, path] = route.split(' ') as [string, string];
    const found = document.paths[path]?.[method];
    if (!found) throw new Error(`${route} is not in /docs-json`);
    return found;
  }

  it('describes exactly the public routes', () => {
    const documented = Object.entries(document.paths)
      .filter(([path]) => path.startsWith('/v1/'))
      .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method} ${path}`));
    expect(documented.sort()).toEqual(Object.keys(routes).sort());
  });

  it.each(Object.entries(routes))('%s: its body, query and Idempotency-Key', (route, expected) => {
    const described = operation(route);
    const body_schema = described.requestBody?.content?.['application/json']?.schema;
    if (expected.body) {
      expect(body_schema).toMatchObject({ type: 'object', additionalProperties: false });
      expect(Object.keys(body_schema?.properties ?? {}).sort()).toEqual([...expected.body].sort());
    } else {
      expect(body_schema).toBeUndefined();
    }
    const query = (described.parameters ?? []).filter((parameter) => parameter.in === 'query').map((parameter) => parameter.name);
    expect(query.sort()).toEqual([...(expected.query ?? [])].sort());
    const header = (described.parameters ?? []).find((parameter) => parameter.in === 'header' && parameter.name === 'Idempotency-Key');
    if (expected.idempotency_key) expect(header).toMatchObject({ required: expected.idempotency_key === 'required' });
    else expect(header).toBeUndefined();
  });

  it.each(Object.entries(routes))('%s: its error answers, each with the error envelope schema', (route, expected) => {
    const responses = operation(route).responses ?? {};
    const errors = Object.keys(responses).filter((status) => Number(status) >= 400);
    expect(errors.sort()).toEqual(expected.errors.map(String).sort());
    for (const status of errors) {
      expect(responses[status]?.content?.['application/json']?.schema).toEqual({ $ref: '#/components/schemas/ErrorEnvelope' });
    }
  });

  it('defines the envelope { error: { type, code, message, param? } }', () => {
    const envelope = document.components?.schemas?.['ErrorEnvelope'];
    expect(envelope?.properties?.error?.required).toEqual(['type', 'code', 'message']);
    expect(Object.keys(envelope?.properties?.error?.properties ?? {}).sort()).toEqual(['code', 'message', 'param', 'type']);
  });

  it('serves the UI at /docs', async () => {
    const answer = await jsonFetch<string>(`${stack.urls['payments']}/docs`, { headers: { accept: 'text/html' } });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^text\/html/);
    expect(answer.body).toContain('swagger-ui');
  });
});
