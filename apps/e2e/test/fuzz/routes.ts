import type { ServiceName } from '@paynet/devstack';
import { jsonFetch } from '@paynet/testing';

/** One public route, read from a service's OpenAPI document (so a new route is fuzzed without editing the fuzzer). */
export interface Route {
  service: ServiceName;
  method: string;
  /** As in the document: `/v1/accounts/{id}/deposits`. */
  template: string;
  path_params: string[];
  query_params: { name: string; schema: JsonSchema }[];
  /** Idempotency-Key is accepted (or required). */
  idempotent: boolean;
  /** The body's JSON schema, when the route reads a body. */
  body?: JsonSchema;
  auth: 'none' | 'bearer' | 'merchant';
}

export interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
}

interface OpenApiOperation {
  parameters?: { name: string; in: string; required?: boolean; schema?: JsonSchema }[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
  security?: Record<string, unknown>[];
}

const methods = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** Every route of every service, from its /docs-json. */
export async function readRoutes(urls: Readonly<Record<ServiceName, string>>): Promise<Route[]> {
  const routes: Route[] = [];
  for (const service of Object.keys(urls) as ServiceName[]) {
    const answer = await jsonFetch<{ paths: Record<string, Partial<Record<(typeof methods)[number], OpenApiOperation>>> }>(`${urls[service]}/docs-json`);
    if (answer.status !== 200) throw new Error(`${service} /docs-json answered ${answer.status}`);
    for (const [template, operations] of Object.entries(answer.body.paths)) {
      for (const method of methods) {
        const operation = operations[method];
        if (operation) routes.push(toRoute(service, method.toUpperCase(), template, operation));
      }
    }
  }
  return routes;
}

function toRoute(service: ServiceName, method: string, template: string, operation: OpenApiOperation): Route {
  const parameters = operation.parameters ?? [];
  const schemes = (operation.security ?? []).flatMap((requirement) => Object.keys(requirement));
  return {
    service,
    method,
    template,
    path_params: parameters.filter((parameter) => parameter.in === 'path').map((parameter) => parameter.name),
    query_params: parameters.filter((parameter) => parameter.in === 'query').map((parameter) => ({ name: parameter.name, schema: parameter.schema ?? {} })),
    idempotent: parameters.some((parameter) => parameter.in === 'header' && parameter.name.toLowerCase() === 'idempotency-key'),
    body: operation.requestBody?.content?.['application/json']?.schema,
    auth: schemes.includes('merchant') ? 'merchant' : schemes.includes('bearer') ? 'bearer' : 'none',
  };
}
