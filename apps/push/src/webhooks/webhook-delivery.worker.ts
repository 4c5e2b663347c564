import { Inject, Injectable, Logger, BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import { ApiError, type SignWebhookReply, Subjects } from '@paynet/contracts';
import { CONFIG, RpcClient } from '@paynet/platform';
import { DataSource } from 'typeorm';
import type { PushConfig } from '../config.js';
import { webhook_attempts_total, webhook_deliveries_in_flight } from '../push.metrics.js';
import { MerchantEndpoints } from './merchant-endpoints.js';
import { type AttemptOutcome, gone_status_code, outcomeOfAttempt } from './retry-schedule.js';
import {
  abandonClaim,
  type ClaimedDelivery,
  claimDueDeliveries,
  recordAttempt,
  recordEndpointHealth,
  releaseClaim,
} from './webhook-deliveries.repository.js';
import { WebhookSender, webhook_timeout_ms } from './webhook-sender.js';

/** Deliveries claimed per query. */
export const webhook_batch_max = 32;
/** How often the worker looks for due deliveries when nobody woke it. */
export const webhook_poll_interval_ms = 200;
/** Attempts running at once on one replica. */
export const webhook_in_flight_max = 64;
/**
 * Attempts running at once for one merchant, whatever its endpoints and URL
 * variants: a merchant's dead endpoints cannot take every slot, so another
 * merchant's webhook always finds one.
 */
export const webhook_in_flight_per_merchant_max = 8;
/** API.md: an endpoint whose deliveries have all failed for 5 days (times WEBHOOK_RETRY_SCALE) is disabled. */
export const webhook_failing_days_max = 5;
const day_ms = 86_400_000;
/** Due rows looked at per claim: a large backlog costs a bounded scan. */
export const webhook_claim_candidates_max = 1_000;
/** A claim outlives one attempt (sign, then POST) with room to spare; after it, another replica may retry. */
export const webhook_lease_ms = webhook_timeout_ms + 15_000;
/** Signing failed (merchants unreachable): try again after this, without counting an attempt. */
export const webhook_sign_retry_delay_ms = 5_000;
export const webhook_sign_timeout_ms = 5_000;
/** Shutdown waits this long for attempts in flight; the rest run out their lease and are retried. */
export const webhook_shutdown_wait_ms = webhook_timeout_ms + 2_000;

/**
 * Delivers webhooks at its own pace: claims due rows with SKIP LOCKED (so
 * replicas share the work), runs each attempt on its own (a slow merchant
 * holds only its own slots), and records the outcome with the retry
 * schedule. Woken by the consumer right after it adds deliveries.
 */
@Injectable()
export class WebhookDeliveryWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WebhookDeliveryWorker.name);
  private readonly in_flight = new Set<Promise<void>>();
  private readonly in_flight_by_merchant = new Map<string, number>();
  private stopped = false;
  private wakeUp: (() => void) | undefined;
  private woken = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly rpc: RpcClient,
    private readonly sender: WebhookSender,
    private readonly endpoints: MerchantEndpoints,
    @Inject(CONFIG) private readonly config: PushConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.loop = this.run();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.loop;
    await Promise.race([Promise.allSettled([...this.in_flight]), delay(webhook_shutdown_wait_ms)]);
  }

  /** New deliveries are due: look now instead of at the next poll. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let full_batch = false;
      try {
        full_batch = await this.claimAndStart();
      } catch (error) {
        this.logger.warn({ err: error }, 'claiming webhook deliveries failed; will retry');
      }
      if (!full_batch) await this.sleep(webhook_poll_interval_ms);
    }
  }

  /** Starts what is due, within the bounds; answers whether more may be waiting right now. */
  private async claimAndStart(): Promise<boolean> {
    const free = webhook_in_flight_max - this.in_flight.size;
    if (free <= 0) return false;
    const limit = Math.min(webhook_batch_max, free);
    const busy_merchants = [...this.in_flight_by_merchant].filter(([, count]) => count >= webhook_in_flight_per_merchant_max).map(([merchant]) => merchant);
    const claims = await claimDueDeliveries(this.dataSource.manager, {
      limit,
      busy_merchants,
      per_merchant_max: webhook_in_flight_per_merchant_max,
      candidates_max: webhook_claim_candidates_max,
      lease_ms: webhook_lease_ms,
    });
    for (const claim of claims) this.start(claim);
    return claims.length === limit;
  }

  private start(claim: ClaimedDelivery): void {
    this.in_flight_by_merchant.set(claim.merchant_id, (this.in_flight_by_merchant.get(claim.merchant_id) ?? 0) + 1);
    webhook_deliveries_in_flight.inc();
    const task = this.attempt(claim)
      .catch((error: unknown) => this.logger.error({ err: error, delivery: claim.id }, 'webhook attempt failed unexpectedly'))
      .finally(() => {
        this.in_flight.delete(task);
        const left = (this.in_flight_by_merchant.get(claim.merchant_id) ?? 1) - 1;
        if (left === 0) this.in_flight_by_merchant.delete(claim.merchant_id);
        else this.in_flight_by_merchant.set(claim.merchant_id, left);
        webhook_deliveries_in_flight.dec();
        // A slot is free: anything waiting may go now.
        this.wake();
      });
    this.in_flight.add(task);
  }

  /**
   * Sign (merchants keeps the secrets, and answers the endpoint's URL as it
   * is now: a retry goes there), POST, record. No transaction is open meanwhile.
   */
  private async attempt(claim: ClaimedDelivery): Promise<void> {
    const timestamp = Math.floor(Date.now() / 1_000);
    const signed = await this.sign(claim, timestamp);
    if (signed === null || signed.url === null) return;
    const result = await this.sender.send({ url: signed.url, msg_id: claim.event_id, timestamp, signature: signed.signature, payload: claim.payload });
    const outcome = outcomeOfAttempt(claim.attempts, result, this.config.WEBHOOK_RETRY_SCALE);
    const recorded = await recordAttempt(this.dataSource.manager, claim, signed.url, outcome);
    webhook_attempts_total.inc({ status: outcome.status });
    if (!recorded) this.logger.warn({ delivery: claim.id }, 'webhook claim ran out before the attempt was recorded');
    if (outcome.status === 'failed') {
      this.logger.warn({ delivery: claim.id, event: claim.event_id, merchant: claim.merchant_id }, 'webhook delivery failed after the last attempt');
    }
    if (claim.endpoint_id !== null) await this.judgeEndpoint(claim.merchant_id, claim.endpoint_id, outcome, signed.enabled_since_ms ?? null);
  }

  /** 410 disables an endpoint at once; so do five days (scaled) of nothing but failures. */
  private async judgeEndpoint(merchant_id: string, endpoint_id: string, outcome: AttemptOutcome, enabled_since_ms: number | null): Promise<void> {
    const manager = this.dataSource.manager;
    const succeeded = outcome.status === 'succeeded';
    const failing_ms = await recordEndpointHealth(manager, { endpoint_id, merchant_id, succeeded, enabled_since_ms });
    if (outcome.last_status_code === gone_status_code) {
      await this.endpoints.disable(manager, merchant_id, endpoint_id, 'gone');
    } else if (failing_ms !== null && failing_ms >= webhook_failing_days_max * day_ms * this.config.WEBHOOK_RETRY_SCALE) {
      await this.endpoints.disable(manager, merchant_id, endpoint_id, 'failing');
    }
  }

  /** The signature, or null when the claim was settled otherwise (released for later, or abandoned). */
  private async sign(claim: ClaimedDelivery, timestamp: number): Promise<SignWebhookReply | null> {
    let signed: SignWebhookReply;
    try {
      signed = await this.rpc.request<SignWebhookReply>(
        Subjects.merchants.webhooksSign,
        {
          merchant_id: claim.merchant_id,
          ...(claim.endpoint_id === null ? {} : { endpoint_id: claim.endpoint_id }),
          msg_id: claim.event_id,
          timestamp,
          payload: claim.payload,
        },
        { timeout_ms: webhook_sign_timeout_ms },
      );
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        await abandonClaim(this.dataSource.manager, claim, 'the merchant no longer exists');
        return null;
      }
      this.logger.warn({ err: error, delivery: claim.id }, 'could not sign a webhook; will retry');
      await releaseClaim(this.dataSource.manager, claim, webhook_sign_retry_delay_ms, 'could not sign: merchants unavailable');
      return null;
    }
    if (signed.url === null) {
      // The endpoint is disabled or deleted: nobody is listening any more.
      await abandonClaim(this.dataSource.manager, claim, 'the endpoint is disabled or deleted');
      return null;
    }
    if (claim.endpoint_id !== null && signed.enabled_since_ms !== undefined && Number(claim.created_ms) < signed.enabled_since_ms) {
      // Made before the endpoint was last enabled: it was disabled meanwhile, which ended this delivery.
      await abandonClaim(this.dataSource.manager, claim, 'the endpoint was disabled meanwhile');
      return null;
    }
    return signed;
  }

  private sleep(timeout_ms: number): Promise<void> {
    if (this.woken || this.stopped) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        this.woken = false;
        resolve();
      };
      const timer = setTimeout(done, timeout_ms);
      this.wakeUp = done;
    });
  }
}

function delay(timeout_ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, timeout_ms).unref());
}
