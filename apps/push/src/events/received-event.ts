import type { PlatformEvent } from '@paynet/contracts';
import { z } from 'zod';

/** An event as it came off the stream: parsed for routing, with its exact bytes kept for delivery. */
export interface ReceivedEvent {
  event: PlatformEvent;
  /** The payload text exactly as published; webhooks sign and send these bytes. */
  payload: string;
  stream_seq: number;
}

/** Anything bigger is not an event we published (payments' events are a few kB). */
export const event_payload_bytes_max = 1_000_000;

const id = (prefix: string) => z.string().regex(new RegExp(`^${prefix}_[0-9A-Za-z]{8,64}$`));

/**
 * Lenient about the type on purpose: a type added by payments before push is
 * redeployed is still recorded and delivered, not dropped as poison.
 */
const event_schema = z.object({
  id: id('evt'),
  object: z.literal('event'),
  type: z.string().regex(/^[a-z_]{1,64}(\.[a-z_]{1,64}){1,3}$/),
  created: z.number().int().nonnegative(),
  merchant: id('mer').nullable(),
  account: id('acct').nullable(),
  data: z.object({ object: z.record(z.string(), z.unknown()) }),
});

export type ParseResult = { ok: true; received: ReceivedEvent } | { ok: false; reason: string };

/** Pure: payload bytes to a routed event, or why it can never be one. */
export function parseReceivedEvent(payload: string, stream_seq: number): ParseResult {
  if (Buffer.byteLength(payload) > event_payload_bytes_max) return { ok: false, reason: 'payload too large' };
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    return { ok: false, reason: 'payload is not JSON' };
  }
  const result = event_schema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    return { ok: false, reason: `not an event: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim() };
  }
  return { ok: true, received: { event: json as PlatformEvent, payload, stream_seq } };
}
