/** Domain events: stored once in an outbox, published once, delivered at least once. */

export const EventTypes = [
  'payment_intent.created',
  'payment_intent.requires_capture',
  'payment_intent.succeeded',
  'payment_intent.payment_failed',
  'payment_intent.canceled',
  'refund.succeeded',
  'account.balance_updated',
  'webhook_endpoint.disabled',
] as const;
export type EventType = (typeof EventTypes)[number];

export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && (EventTypes as readonly string[]).includes(value);
}

/** A webhook endpoint's `enabled_events` entry that admits every type. */
export const all_events = '*';

/** Pure: does an endpoint's `enabled_events` admit this event type? `*` admits every type, a new one included. */
export function admitsEvent(enabled_events: readonly string[], type: string): boolean {
  return enabled_events.includes(all_events) || enabled_events.includes(type);
}

export interface PlatformEvent<T extends object = object> {
  id: string;
  object: 'event';
  type: EventType;
  created: number;
  /** Null on account.balance_updated. */
  merchant: string | null;
  /** The payer's account on events about a paid intent, else null. */
  account: string | null;
  data: { object: T };
}

/** Frames of the push WebSocket stream. */
export type StreamFrame =
  | { type: 'event'; event: PlatformEvent }
  | { type: 'error'; error: { code: string; message: string } }
  | { type: 'resumed'; recovered: true; replayed: number }
  | { type: 'resumed'; recovered: false };
