import { Inject, Injectable, Logger, BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import { ApiError, type SignWebhookReply, Subjects } from '@paynet/contracts';
import { CONFIG, RpcClient } from '@paynet/platform';
import { DataSource } from 'typeorm';
import type { PushConfig } from '../config.js';
import { webhook_attempts_total, webhook_deliveries_in_flight } from '../push.metrics.js';
import { outcomeOfAttempt } from './retry-schedule.js';
import {
  abandonClaim,
  type ClaimedDelivery,
  claimDueDeliveries,
  recordAttempt,
  releaseClaim,
} from './webhook-deliveries.repository.js';
import { WebhookSender, webhook_timeout_ms } from './webhook-sender.js';

/** Deliveries claimed per query. */
export const webhook_batch_max = 32;
/** How often the worker looks for due deliveries when nobody woke it. */
export const webhook_poll_interval_ms = 200;
/** Attempts running at once on one replica. */
export const webhook_in_flight_max = 64;
/** Attempts running at once against one endpoint: a dead endpoint cannot take every slot. */
export const webhook_in_flight_per_endpoint_max = 4;
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
 * replicas share the work), runs each attempt on its own (a slow endpoint
 * holds only its own slots), and records the outcome with the retry
 * schedule. Woken by the consumer right after it adds deliveries.
 */
@Injectable()
export class WebhookDeliveryWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WebhookDeliveryWorker.name);
  private readonly in_flight = new Set<Promise<void>>();
  private readonly in_flight_by_url = new Map<string, number>();
  private stopped = false;
  private wakeUp: (() => void) | undefined;
  private woken = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly rpc: RpcClient,
    private readonly sender: WebhookSender,
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
    const busy_urls = [...this.in_flight_by_url].filter(([, count]) => count >= webhook_in_flight_per_endpoint_max).map(([url]) => url);
    const claims = await claimDueDeliveries(this.dataSource.manager, {
      limit,
      busy_urls,
      per_endpoint_max: webhook_in_flight_per_endpoint_max,
      candidates_max: webhook_claim_candidates_max,
      lease_ms: webhook_lease_ms,
    });
    for (const claim of claims) this.start(claim);
    return claims.length === limit;
  }

  private start(claim: ClaimedDelivery): void {
    this.in_flight_by_url.set(claim.url, (this.in_flight_by_url.get(claim.url) ?? 0) + 1);
    webhook_deliveries_in_flight.inc();
    const task = this.attempt(claim)
      .catch((error: unknown) => this.logger.error({ err: error, delivery: claim.id }, 'webhook attempt failed unexpectedly'))
      .finally(() => {
        this.in_flight.delete(task);
        const left = (this.in_flight_by_url.get(claim.url) ?? 1) - 1;
        if (left === 0) this.in_flight_by_url.delete(claim.url);
        else this.in_flight_by_url.set(claim.url, left);
        webhook_deliveries_in_flight.dec();
        // A slot is free: anything waiting may go now.
        this.wake();
      });
    this.in_flight.add(task);
  }

  /** Sign (merchants keeps the secret), POST, record. No transaction is open meanwhile. */
  private async attempt(claim: ClaimedDelivery): Promise<void> {
    const timestamp = Math.floor(Date.now() / 1_000);
    const signed = await this.sign(claim, timestamp);
    if (signed === null) return;
    const result = await this.sender.send({ url: claim.url, msg_id: claim.event_id, timestamp, signature: signed.signature, payload: claim.payload });
    const outcome = outcomeOfAttempt(claim.attempts, result, this.config.WEBHOOK_RETRY_SCALE);
    const recorded = await recordAttempt(this.dataSource.manager, claim, outcome);
    webhook_attempts_total.inc({ status: outcome.status });
    if (!recorded) this.logger.warn({ delivery: claim.id }, 'webhook claim ran out before the attempt was recorded');
    if (outcome.status === 'failed') {
      this.logger.warn({ delivery: claim.id, event: claim.event_id, merchant: claim.merchant_id }, 'webhook delivery failed after the last attempt');
    }
  }

  /** The signature, or null when the claim was settled otherwise (released for later, or abandoned). */
  private async sign(claim: ClaimedDelivery, timestamp: number): Promise<SignWebhookReply | null> {
    let signed: SignWebhookReply;
    try {
      signed = await this.rpc.request<SignWebhookReply>(
        Subjects.merchants.webhooksSign,
        { merchant_id: claim.merchant_id, msg_id: claim.event_id, timestamp, payload: claim.payload },
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
      // The merchant removed its endpoint: nobody is listening any more.
      await abandonClaim(this.dataSource.manager, claim, 'the merchant has no webhook endpoint any more');
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
