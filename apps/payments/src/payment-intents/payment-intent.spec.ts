import { effective_status_sql, effectiveIntent, type PaymentIntentRow } from './payment-intent.js';

const now = 1_800_000_000;
const base = {
  status: 'requires_payment',
  expires_at: String(now + 60),
  hold_expires_at: null,
  capture_amount: null,
  void_reason: null,
  cancellation_reason: null,
} as unknown as PaymentIntentRow;

describe('effectiveIntent', () => {
  it('reads an unpaid intent canceled (expired) from the second expires_at has passed', () => {
    expect(effectiveIntent({ ...base, expires_at: String(now) }, now)).toMatchObject({ status: 'canceled', cancellation_reason: 'expired' });
    expect(effectiveIntent(base, now)).toMatchObject({ status: 'requires_payment', cancellation_reason: null });
  });

  it('reads an untouched hold past its expiry canceled, but lets a capture or void already sent decide', () => {
    const hold = { ...base, status: 'requires_capture', hold_expires_at: String(now - 1) } as PaymentIntentRow;
    expect(effectiveIntent(hold, now).status).toBe('canceled');
    expect(effectiveIntent({ ...hold, capture_amount: '100' }, now).status).toBe('requires_capture');
    expect(effectiveIntent({ ...hold, void_reason: 'requested_by_merchant' }, now).status).toBe('requires_capture');
    expect(effectiveIntent({ ...hold, hold_expires_at: String(now + 1) }, now).status).toBe('requires_capture');
  });

  it('says the same in SQL: one WHEN per expiry rule', () => {
    expect(effective_status_sql).toContain("WHEN status = 'requires_payment' AND expires_at <= now() THEN 'canceled'");
    expect(effective_status_sql).toContain(
      "WHEN status = 'requires_capture' AND capture_amount IS NULL AND void_reason IS NULL AND hold_expires_at <= now() THEN 'canceled'",
    );
  });
});
