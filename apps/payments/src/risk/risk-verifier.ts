import { Inject, Injectable, Logger } from '@nestjs/common';
import { CONFIG } from '@paynet/platform';
import {
  BrokenCircuitError,
  type CircuitBreakerPolicy,
  circuitBreaker,
  ConsecutiveBreaker,
  handleAll,
  type IPolicy,
  TaskCancelledError,
  timeout,
  TimeoutStrategy,
  wrap,
} from 'cockatiel';
import { z } from 'zod';
import type { PaymentsConfig } from '../config.js';
import { risk_verifier_calls_total } from './risk.metrics.js';
import type { VerifierOutcome } from './risk-rules.js';

/** The body POSTed to RISK_VERIFY_URL (docs/ARCHITECTURE.md, Risk). */
export interface VerifierRequest {
  payment_intent: string;
  /** Integer minor units, as everywhere in the API. */
  amount: number;
  currency: string;
  account: string;
  merchant: string;
}

const verifier_reason_length_max = 500;

/** What the verifier must answer with a 2xx; other fields are ignored, anything else is a failure. */
const verifier_answer = z.object({
  decision: z.enum(['allow', 'decline']),
  reason: z.string().max(verifier_reason_length_max).nullish(),
});

class VerifierAnswerError extends Error {}

/**
 * The optional external risk verifier, behind a timeout and a circuit
 * breaker (cockatiel): a failure, a timeout or an open circuit is an
 * outcome (`unavailable`), never an exception, so the caller applies the
 * fail mode. The breaker is per replica: each one stops calling a verifier
 * it has seen fail, on its own evidence.
 */
@Injectable()
export class RiskVerifier {
  private readonly logger = new Logger(RiskVerifier.name);
  private readonly url: string | undefined;
  private readonly breaker: CircuitBreakerPolicy;
  private readonly policy: IPolicy<{ signal: AbortSignal }>;

  constructor(@Inject(CONFIG) config: PaymentsConfig) {
    this.url = config.RISK_VERIFY_URL;
    this.breaker = circuitBreaker(handleAll, {
      halfOpenAfter: config.RISK_VERIFY_BREAKER_OPEN_MS,
      breaker: new ConsecutiveBreaker(config.RISK_VERIFY_BREAKER_FAILURES),
    });
    // Aggressive: the call is abandoned at the deadline (and its request aborted), whatever the server does.
    this.policy = wrap(this.breaker, timeout(config.RISK_VERIFY_TIMEOUT_MS, TimeoutStrategy.Aggressive));
    // The URL may carry credentials: it is never logged.
    this.breaker.onBreak(() => this.logger.warn('risk verifier circuit opened: calls stop until the trial call'));
    this.breaker.onReset(() => this.logger.log('risk verifier circuit closed: calls resume'));
  }

  /** Whether RISK_VERIFY_URL is set: verify() then makes a request. */
  get configured(): boolean {
    return this.url !== undefined;
  }

  async verify(request: VerifierRequest): Promise<VerifierOutcome> {
    if (this.url === undefined) return { kind: 'not_configured' };
    const url = this.url;
    let outcome: VerifierOutcome;
    try {
      // A signal of its own: cockatiel's default one is shared, and each call in flight would add a listener to it.
      outcome = await this.policy.execute(({ signal }) => post(url, request, signal), new AbortController().signal);
    } catch (error) {
      outcome = unavailable(error);
    }
    risk_verifier_calls_total.inc({ result: outcome.kind === 'unavailable' ? outcome.cause : outcome.kind });
    return outcome;
  }
}

async function post(url: string, request: VerifierRequest, signal: AbortSignal): Promise<VerifierOutcome> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(request),
    redirect: 'error',
    signal,
  });
  if (!response.ok) throw new VerifierAnswerError(`answered HTTP ${response.status}`);
  const parsed = verifier_answer.safeParse(await response.json().catch(() => undefined));
  if (!parsed.success) throw new VerifierAnswerError('answered a body that is not { "decision": "allow" | "decline" }');
  return parsed.data.decision === 'allow' ? { kind: 'allow' } : { kind: 'decline', reason: parsed.data.reason ?? null };
}

function unavailable(error: unknown): VerifierOutcome {
  if (error instanceof BrokenCircuitError) return { kind: 'unavailable', cause: 'circuit_open', detail: 'circuit open' };
  if (error instanceof TaskCancelledError) return { kind: 'unavailable', cause: 'timeout', detail: 'timed out' };
  const detail = error instanceof VerifierAnswerError ? error.message : `request failed: ${(error as Error | undefined)?.message ?? String(error)}`;
  return { kind: 'unavailable', cause: 'error', detail };
}
