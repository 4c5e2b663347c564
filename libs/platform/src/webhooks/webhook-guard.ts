import type { LookupAddress, LookupOptions } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { Agent, request } from 'undici';
import { z } from 'zod';
import { isSpecialPurposeAddress } from './special-addresses.js';

/**
 * The one webhook URL guard (API.md, merchants: webhook endpoints): merchants
 * runs it when a URL is set, push at every delivery. Unless
 * WEBHOOK_ALLOW_PRIVATE: https only, and no special-purpose address. Always:
 * no credentials in the URL, no redirect followed. The address checked is
 * the address connected to: the name is resolved once, inside the
 * connection's own lookup, so a second answer (DNS rebinding) is never used.
 */
export const webhook_url_length_max = 2_048;
export const webhook_dns_timeout_ms = 5_000;

/** The setting both merchants and push read: default true unless NODE_ENV=production. */
export const webhook_allow_private_setting = z.enum(['true', 'false']).optional();

export function webhookAllowPrivate(setting: 'true' | 'false' | undefined, node_env: string | undefined): boolean {
  return setting === undefined ? node_env !== 'production' : setting === 'true';
}

/** Every address a name stands for. Injectable so tests can play a rebinding resolver. */
export type Resolver = (hostname: string) => Promise<readonly LookupAddress[]>;

export interface WebhookGuardOptions {
  allow_private: boolean;
  resolve?: Resolver;
}

/** Pure: what is wrong with the URL itself, or null; IP literals are judged here, names at connect. */
export function webhookUrlProblem(text: string, allow_private: boolean): string | null {
  if (text.length > webhook_url_length_max) return `is longer than ${webhook_url_length_max} characters`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'is not an absolute URL';
  }
  if (url.protocol !== 'https:' && !(allow_private && url.protocol === 'http:')) {
    return allow_private ? 'must be an http(s) URL' : 'must be an https URL';
  }
  if (url.username !== '' || url.password !== '') return 'may not carry credentials';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!allow_private && isIP(host) !== 0 && isSpecialPurposeAddress(host)) return 'may not point at a private or special-purpose address';
  return null;
}

/** The error code of a name that resolved to an address the guard refuses. */
const private_answer_code = 'EWEBHOOKPRIVATE';

const defaultResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** The resolver's answer, all public, or an error saying why the name may not be reached. */
async function publicAddresses(hostname: string, resolve: Resolver): Promise<readonly LookupAddress[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('DNS lookup timed out')), webhook_dns_timeout_ms);
  });
  try {
    const addresses = await Promise.race([resolve(hostname), timeout]);
    if (addresses.length === 0) throw new Error(`${hostname} has no address`);
    const refused = addresses.find((entry) => isSpecialPurposeAddress(entry.address));
    if (refused !== undefined) throw Object.assign(new Error(`${hostname} resolves to a private or special-purpose address (${refused.address})`), { code: private_answer_code });
    return addresses;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Registration check: the URL's own problems, then (unless private
 * addresses are allowed) what its name resolves to now. A name that does not
 * resolve yet is accepted: it may be set up after the endpoint, and delivery
 * checks again at every connect, since a name can point elsewhere later.
 */
export async function webhookDestinationProblem(text: string, options: WebhookGuardOptions): Promise<string | null> {
  const problem = webhookUrlProblem(text, options.allow_private);
  if (problem !== null || options.allow_private) return problem;
  const host = new URL(text).hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) !== 0) return null;
  try {
    await publicAddresses(host, options.resolve ?? defaultResolver);
    return null;
  } catch (error) {
    const refused = (error as { code?: string }).code === private_answer_code;
    return refused ? `cannot be used: ${(error as Error).message}` : null;
  }
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A net/tls `lookup` that resolves once, refuses special-purpose answers, and hands over exactly what it checked. */
function pinnedLookup(resolve: Resolver) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    publicAddresses(hostname, resolve).then(
      (addresses) => {
        const wanted = options.family === 4 || options.family === 6 ? addresses.filter((entry) => entry.family === options.family) : addresses;
        if (wanted.length === 0) return callback(Object.assign(new Error(`${hostname} has no IPv${options.family} address`), { code: 'ENOTFOUND' }), '');
        if (options.all === true) return callback(null, [...wanted]);
        const first = wanted[0] as LookupAddress;
        return callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, ''),
    );
  };
}

export interface WebhookPost {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeout_ms: number;
}

export type WebhookPostResult = { kind: 'response'; status_code: number; retry_after: string | null } | { kind: 'no_response'; reason: string };

/**
 * Sends webhooks through the guard. One per process: its connection pool
 * only ever holds sockets to addresses that passed the check.
 */
export class WebhookClient {
  private readonly agent: Agent;

  constructor(private readonly options: WebhookGuardOptions) {
    const lookup = options.allow_private ? undefined : pinnedLookup(options.resolve ?? defaultResolver);
    this.agent = new Agent({ connect: lookup === undefined ? {} : { lookup } });
  }

  /** One POST; never throws, never follows a redirect, never reads the body. */
  async post(webhook: WebhookPost): Promise<WebhookPostResult> {
    const problem = webhookUrlProblem(webhook.url, this.options.allow_private);
    if (problem !== null) return { kind: 'no_response', reason: `the URL ${problem}` };
    try {
      const response = await request(webhook.url, {
        method: 'POST',
        headers: webhook.headers,
        body: webhook.body,
        dispatcher: this.agent,
        signal: AbortSignal.timeout(webhook.timeout_ms),
      });
      // The body could be large or slow, and the status says all we need: drop it (and the abort it reports).
      response.body.on('error', () => undefined).destroy();
      const retry_after = response.headers['retry-after'];
      return { kind: 'response', status_code: response.statusCode, retry_after: typeof retry_after === 'string' ? retry_after : null };
    } catch (error) {
      const timed_out = (error as { name?: string } | null)?.name === 'TimeoutError';
      return { kind: 'no_response', reason: timed_out ? `no answer within ${webhook.timeout_ms} ms` : describe(error) };
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } } | null)?.cause;
  const own = error as { code?: string; message?: string } | null;
  const text = own?.code === private_answer_code ? own.message : (cause?.code ?? own?.code ?? cause?.message ?? own?.message ?? String(error));
  return String(text).slice(0, 200);
}
