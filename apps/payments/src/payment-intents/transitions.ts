/**
 * The payment intent's state machine (API.md, payments), as data: for each
 * event, the statuses it may happen in and the status it leaves. Pure. The
 * code asks `transition` before acting, and every UPDATE that moves an
 * intent guards itself with `statusGuard(event)`, so the SQL's
 * `WHERE status ...` lists are derived from this table, never re-encoded.
 *
 * The sub-states of requires_capture (a capture or a void sent, whose
 * answer decides) live in capture_amount and void_reason, not in status.
 */
import type { PaymentIntentStatus } from '@paynet/contracts';

export const payment_intent_statuses = ['requires_payment', 'processing', 'requires_capture', 'succeeded', 'canceled'] as const satisfies readonly PaymentIntentStatus[];

export const payment_intent_events = [
  /** The holder pays: a new attempt starts. */
  'pay',
  /** accounts applied an automatic attempt's transfer. */
  'transfer_applied',
  /** accounts placed a manual attempt's hold. */
  'hold_placed',
  /** accounts refused the attempt's command (insufficient funds, ...): the holder may try again. */
  'attempt_refused',
  /** The risk rules declined the attempt before it began: only the reason is recorded. */
  'risk_declined',
  /** The merchant captures: the hold's post is about to be sent. */
  'capture',
  /** accounts posted the hold. */
  'hold_posted',
  /** accounts refused the post (the hold expired or was voided first): the capture is forgotten. */
  'hold_post_refused',
  /** The merchant cancels, or the hold expires: the hold's void is about to be sent. */
  'void',
  /** accounts voided the hold. */
  'hold_voided',
  /** The merchant cancels an unpaid intent. */
  'cancel',
  /** An unpaid intent passed its expires_at. */
  'expire',
] as const;
export type PaymentIntentEvent = (typeof payment_intent_events)[number];

type Moves = Partial<Record<PaymentIntentStatus, PaymentIntentStatus>>;

const table: Readonly<Record<PaymentIntentEvent, Moves>> = {
  pay: { requires_payment: 'processing' },
  // Also from requires_payment: an applied answer wins over a refusal recorded for the same attempt
  // (accounts answers one outcome per id; an intent that answered 200 never reads otherwise).
  transfer_applied: { processing: 'succeeded', requires_payment: 'succeeded' },
  hold_placed: { processing: 'requires_capture', requires_payment: 'requires_capture' },
  attempt_refused: { processing: 'requires_payment' },
  risk_declined: { requires_payment: 'requires_payment' },
  capture: { requires_capture: 'requires_capture' },
  hold_posted: { requires_capture: 'succeeded' },
  hold_post_refused: { requires_capture: 'requires_capture' },
  void: { requires_capture: 'requires_capture' },
  hold_voided: { requires_capture: 'canceled' },
  cancel: { requires_payment: 'canceled' },
  expire: { requires_payment: 'canceled' },
};

export type Transition = { allowed: true; next: PaymentIntentStatus } | { allowed: false };

/** Where `event` takes an intent in `status`, or that it may not happen there (the API answers 409 payment_intent_unexpected_state). */
export function transition(status: PaymentIntentStatus, event: PaymentIntentEvent): Transition {
  const next = table[event][status];
  return next === undefined ? { allowed: false } : { allowed: true, next };
}

/** The statuses `event` may happen in. */
export function statusesFor(event: PaymentIntentEvent): PaymentIntentStatus[] {
  return payment_intent_statuses.filter((status) => table[event][status] !== undefined);
}

/** The SQL condition "the row's status admits `event`" (or any of `events`); statuses are this module's constants, never input. */
export function statusGuard(event: PaymentIntentEvent | readonly PaymentIntentEvent[], column = 'status'): string {
  const events = typeof event === 'string' ? [event] : event;
  const statuses = payment_intent_statuses.filter((status) => events.some((one) => table[one][status] !== undefined)).map((status) => `'${status}'`);
  return statuses.length === 1 ? `${column} = ${statuses[0]}` : `${column} IN (${statuses.join(', ')})`;
}

/** Statuses no event leaves. */
export function isFinal(status: PaymentIntentStatus): boolean {
  return payment_intent_events.every((event) => {
    const move = transition(status, event);
    return !move.allowed || move.next === status;
  });
}
