import type { PaymentIntentStatus } from '@paynet/contracts';
import { isFinal, payment_intent_events, payment_intent_statuses, type PaymentIntentEvent, statusesFor, statusGuard, transition } from './transitions.js';

/** API.md's lifecycle, written out pair by pair: every (status, event) not listed here must be refused. */
const allowed: readonly [PaymentIntentStatus, PaymentIntentEvent, PaymentIntentStatus][] = [
  ['requires_payment', 'pay', 'processing'],
  ['requires_payment', 'risk_declined', 'requires_payment'],
  ['requires_payment', 'cancel', 'canceled'],
  ['requires_payment', 'expire', 'canceled'],
  ['processing', 'transfer_applied', 'succeeded'],
  ['processing', 'hold_placed', 'requires_capture'],
  ['processing', 'attempt_refused', 'requires_payment'],
  // accounts' applied answer wins over a refusal recorded for the same attempt (issue 12: an intent that answered 200 never reads otherwise).
  ['requires_payment', 'transfer_applied', 'succeeded'],
  ['requires_payment', 'hold_placed', 'requires_capture'],
  ['requires_capture', 'capture', 'requires_capture'],
  ['requires_capture', 'hold_posted', 'succeeded'],
  ['requires_capture', 'hold_post_refused', 'requires_capture'],
  ['requires_capture', 'void', 'requires_capture'],
  ['requires_capture', 'hold_voided', 'canceled'],
];

describe('payment intent transitions', () => {
  const pairs = payment_intent_statuses.flatMap((status) => payment_intent_events.map((event) => [status, event] as const));

  it.each(pairs)('in %s, %s goes exactly where the lifecycle says, or is refused', (status, event) => {
    const expected = allowed.find(([from, on]) => from === status && on === event);
    expect(transition(status, event)).toEqual(expected ? { allowed: true, next: expected[2] } : { allowed: false });
  });

  it('refuses paying anything but an intent awaiting payment (paid, processing, held, canceled)', () => {
    for (const status of ['processing', 'requires_capture', 'succeeded', 'canceled'] as const) expect(transition(status, 'pay').allowed).toBe(false);
  });

  it('never leaves succeeded or canceled, and every other status can move on', () => {
    expect(payment_intent_statuses.filter(isFinal)).toEqual(['succeeded', 'canceled']);
  });

  it('reaches every status from a new intent', () => {
    const reached = new Set<PaymentIntentStatus>(['requires_payment']);
    for (let round = 0; round < payment_intent_statuses.length; round++) {
      for (const status of [...reached]) {
        for (const event of payment_intent_events) {
          const move = transition(status, event);
          if (move.allowed) reached.add(move.next);
        }
      }
    }
    expect([...reached].sort()).toEqual([...payment_intent_statuses].sort());
  });

  it('derives the SQL guard of each event from the same table', () => {
    for (const event of payment_intent_events) {
      const statuses = statusesFor(event);
      expect(statuses.length).toBeGreaterThan(0);
      expect(statusGuard(event)).toBe(statuses.length === 1 ? `status = '${statuses[0]}'` : `status IN (${statuses.map((status) => `'${status}'`).join(', ')})`);
    }
    expect(statusGuard('pay')).toBe("status = 'requires_payment'");
    expect(statusGuard('hold_posted', 'pi.status')).toBe("pi.status = 'requires_capture'");
  });
});
