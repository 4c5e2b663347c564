import { randomUUID } from 'node:crypto';
import type { FakeMerchant } from './fake-services.js';

/** Any answer of push's HTTP API: an object, a list of them, or an error. */
export type AnswerBody = Record<string, unknown> & {
  object?: string;
  data?: Record<string, unknown>[];
  has_more?: boolean;
  error?: { type: string; code: string; message: string; param?: string };
};

export interface Answer<B = AnswerBody> {
  status: number;
  body: B;
  headers: Headers;
}

/** Signed as the merchant: the fake merchants service accepts its key, as the real one would a good signature. */
export async function asMerchant<B = AnswerBody>(
  base_url: string,
  merchant: FakeMerchant,
  method: 'GET' | 'POST',
  path: string,
  headers: Record<string, string> = {},
): Promise<Answer<B>> {
  return answerOf<B>(
    await fetch(`${base_url}${path}`, {
      method,
      headers: {
        'x-api-key': merchant.api_key,
        'x-timestamp': String(Math.floor(Date.now() / 1_000)),
        'x-nonce': randomUUID(),
        'x-signature': 'v1=checked-by-merchants',
        ...headers,
      },
    }),
  );
}

/** As a wallet holder, with its account token. */
export async function asHolder<B = AnswerBody>(base_url: string, token: string, path: string): Promise<Answer<B>> {
  return answerOf<B>(await fetch(`${base_url}${path}`, { headers: { authorization: `Bearer ${token}` } }));
}

async function answerOf<B>(response: Response): Promise<Answer<B>> {
  return { status: response.status, body: (await response.json()) as B, headers: response.headers };
}
