import { ApiError, ErrorCode, type PaymentErrorObject, type RiskRule } from '@paynet/contracts';

/** 402 risk_declined, knowing which rule declined, for the intent's last_payment_error. */
export class RiskDeclinedError extends ApiError {
  constructor(
    readonly rule: RiskRule,
    message: string,
  ) {
    super(402, 'payment_error', ErrorCode.risk_declined, message);
  }

  paymentError(): PaymentErrorObject {
    return { code: this.code, message: this.message, rule: this.rule };
  }
}
