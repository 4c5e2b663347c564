import { randomUUID } from 'node:crypto';
import type {
  BalanceObject,
  CaptureMethod,
  ListResponse,
  MerchantObject,
  PaymentIntentObject,
  PaymentIntentStatus,
  RefundObject,
  WebhookDeliveryObject,
} from '@paynet/contracts';
import { signRequest } from '@paynet/signatures';
import { PaynetError } from './errors.js';

/** One try and two retries; only for requests that are safe to repeat. */
export const request_attempts_max = 3;
/** Before retry n (1-based): retry_backoff_ms * 2^(n-1). */
export const retry_backoff_ms = 250;
/** Per attempt; a request that takes longer is abandoned (and retried when safe). */
export const request_timeout_ms = 15_000;

export interface PaynetUrls {
  merchants: string;
  payments: string;
  push: string;
}

export interface PaynetClientOptions {
  apiKey: string;
  apiSecret: string;
  urls: PaynetUrls;
  timeoutMs?: number;
  retryBackoffMs?: number;
}

export interface RequestOptions {
  idempotencyKey?: string;
}

export interface PaynetResponse<T = unknown> {
  status: number;
  headers: Headers;
  /** Parsed JSON; the text when it was not JSON; null when empty. */
  body: T;
}

export interface CreatePaymentIntentParams {
  amount: number;
  currency: string;
  reference: string;
  description?: string;
  capture_method?: CaptureMethod;
  expires_in?: number;
}

export interface ListPaymentIntentsParams {
  limit?: number;
  starting_after?: string;
  status?: PaymentIntentStatus;
}

export interface StreamToken {
  token: string;
  expires_at: number;
}


/** Which service answers a path (API.md, Services). */
const routes: readonly [prefix: string, service: keyof PaynetUrls][] = [
  ['/v1/merchants', 'merchants'],
  ['/v1/webhook-endpoints', 'merchants'],
  ['/v1/payment-intents', 'payments'],
  ['/v1/webhook-deliveries', 'push'],
  ['/v1/events', 'push'],
];

export function serviceFor(path_with_query: string): keyof PaynetUrls {
  for (const [prefix, service] of routes) {
    const rest = path_with_query.slice(prefix.length);
    if (path_with_query.startsWith(prefix) && (rest === '' || rest.startsWith('/') || rest.startsWith('?'))) return service;
  }
  throw new Error(`no Paynet service serves ${path_with_query}`);
}

const retryable_statuses = new Set([429, 500, 502, 503, 504]);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const segment = (id: string) => encodeURIComponent(id);

/** A merchant's client: every request signed with the API secret, safe retries, typed helpers. */
export class PaynetClient {
  private readonly timeout_ms: number;
  private readonly backoff_ms: number;

  constructor(private readonly options: PaynetClientOptions) {
    if (!options.apiKey || !options.apiSecret) throw new Error('PaynetClient needs apiKey and apiSecret');
    this.timeout_ms = options.timeoutMs ?? request_timeout_ms;
    this.backoff_ms = options.retryBackoffMs ?? retry_backoff_ms;
  }

  /**
   * Sends a signed request and returns the answer, whatever its status. The
   * body is serialized once and exactly those bytes are signed and sent. A GET
   * or a request with an Idempotency-Key is retried on a network error, 429 or
   * 5xx, signed again with a new nonce and sent with the same key.
   */
  async request<T = unknown>(
    method: string,
    path_with_query: string,
    body?: unknown,
    options: RequestOptions = {},
  ): Promise<PaynetResponse<T>> {
    const url = this.options.urls[serviceFor(path_with_query)].replace(/\/+$/, '') + path_with_query;
    const bytes = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    const repeatable = method.toUpperCase() === 'GET' || options.idempotencyKey !== undefined;
    for (let attempt = 1; attempt <= request_attempts_max; attempt++) {
      const last = !repeatable || attempt === request_attempts_max;
      try {
        const response = await this.send<T>(method, url, path_with_query, bytes, options.idempotencyKey);
        if (last || !retryable_statuses.has(response.status)) return response;
      } catch (error) {
        if (last) throw error;
      }
      await sleep(this.backoff_ms * 2 ** (attempt - 1));
    }
    throw new Error('unreachable: the last attempt returns or throws');
  }

  private async send<T>(
    method: string,
    url: string,
    path_with_query: string,
    bytes: Buffer | undefined,
    idempotency_key: string | undefined,
  ): Promise<PaynetResponse<T>> {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = randomUUID();
    const signed = { secret: this.options.apiSecret, timestamp, nonce, method, path_with_query, body: bytes };
    const headers: Record<string, string> = {
      'X-Api-Key': this.options.apiKey,
      'X-Timestamp': timestamp,
      'X-Nonce': nonce,
      'X-Signature': signRequest(signed),
      Accept: 'application/json',
    };
    // Only with a body: some servers refuse an empty body declared as JSON.
    if (bytes !== undefined) headers['Content-Type'] = 'application/json';
    if (idempotency_key !== undefined) headers['Idempotency-Key'] = idempotency_key;
    const response = await fetch(url, {
      method: method.toUpperCase(),
      headers,
      body: bytes === undefined ? undefined : new Uint8Array(bytes),
      signal: AbortSignal.timeout(this.timeout_ms),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: parseBody(text) as T };
  }

  /** A typed call: the body of a 2xx, else a PaynetError. */
  private async call<T>(method: string, path_with_query: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
    const response = await this.request<T>(method, path_with_query, body, options);
    if (response.status >= 200 && response.status < 300) return response.body;
    throw PaynetError.fromResponse(response.status, response.body);
  }

  createPaymentIntent(params: CreatePaymentIntentParams, options: RequestOptions = {}): Promise<PaymentIntentObject> {
    const idempotencyKey = options.idempotencyKey ?? randomUUID();
    return this.call('POST', '/v1/payment-intents', params, { idempotencyKey });
  }

  retrievePaymentIntent(id: string): Promise<PaymentIntentObject> {
    return this.call('GET', `/v1/payment-intents/${segment(id)}`);
  }

  listPaymentIntents(params: ListPaymentIntentsParams = {}): Promise<ListResponse<PaymentIntentObject>> {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) if (value !== undefined) query.set(name, String(value));
    const search = query.size > 0 ? `?${query.toString()}` : '';
    return this.call('GET', `/v1/payment-intents${search}`);
  }

  capturePaymentIntent(id: string, params: { amount?: number } = {}, options: RequestOptions = {}): Promise<PaymentIntentObject> {
    const idempotencyKey = options.idempotencyKey ?? randomUUID();
    return this.call('POST', `/v1/payment-intents/${segment(id)}/capture`, params, { idempotencyKey });
  }

  cancelPaymentIntent(id: string, options: RequestOptions = {}): Promise<PaymentIntentObject> {
    const idempotencyKey = options.idempotencyKey ?? randomUUID();
    return this.call('POST', `/v1/payment-intents/${segment(id)}/cancel`, undefined, { idempotencyKey });
  }

  createRefund(id: string, params: { amount?: number; reason?: string } = {}, options: RequestOptions = {}): Promise<RefundObject> {
    const idempotencyKey = options.idempotencyKey ?? randomUUID();
    return this.call('POST', `/v1/payment-intents/${segment(id)}/refunds`, params, { idempotencyKey });
  }

  getMerchant(id: string): Promise<MerchantObject> {
    return this.call('GET', `/v1/merchants/${segment(id)}`);
  }

  getMerchantBalance(id: string): Promise<BalanceObject> {
    return this.call('GET', `/v1/merchants/${segment(id)}/balance`);
  }

  createStreamToken(merchantId: string): Promise<StreamToken> {
    return this.call('POST', `/v1/merchants/${segment(merchantId)}/stream-tokens`);
  }

  listWebhookDeliveries(eventId: string): Promise<ListResponse<WebhookDeliveryObject>> {
    return this.call('GET', `/v1/webhook-deliveries?event=${segment(eventId)}`);
  }

  async redeliverEvent(eventId: string): Promise<void> {
    await this.call('POST', `/v1/events/${segment(eventId)}/redeliver`);
  }
}

function parseBody(text: string): unknown {
  if (text.length === 0) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
