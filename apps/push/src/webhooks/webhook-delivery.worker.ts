import { Inject, Injectable, Logger, BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { type SignWebhookReply, type SignWebhooksReply, Subjects } from '@paynet/contracts';
import { CONFIG, RpcClient } from '@paynet/platform';
import { DataSource } from 'typeorm';
import type { PushConfig } from '../config.js';
import { webhook_attempts_total, webhook_deliveries_in_flight } from '../push.metrics.js';
import { MerchantEndpoints } from './merchant-endpoints.js';
import { type AttemptOutcome, gone_status_code, outcomeOfAttempt } from './retry-schedule.js';
import {
  abandonClaim,
  type AttemptRecord,
  type ClaimedDelivery,
  claimDueDeliveries,
  type EndpointHealthUpdate,
  type RecordedAttempts,
  recordAttempts,
  releaseClaim,
} from './webhook-deliveries.repository.js';
import { WebhookSender, webhook_timeout_ms } from './webhook-sender.js';
import { WriteBatcher } from './write-batcher.js';

/** Deliveries claimed per query. */
export const webhook_batch_max = 32;
/**
 * How often the worker looks for due deliveries nobody told it of: another
 * replica's retries and leftovers, claims whose lease ran out. What this
 * replica knows of (the deliveries its recorder made, its own retries coming
 * due, a redelivery asked of it) wakes it or is started at once.
 */
export const webhook_poll_interval_ms = 1_000;
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
/** Payload bytes signed by one request at most (NATS refuses messages over 1 MB); a bigger webhook goes alone. */
export const webhook_sign_request_bytes_max = 256 * 1024;
/** Attempts recorded by one statement at most. */
export const webhook_record_batch_max = 256;
/**
 * An attempt that finishes when no record is being written waits this long
 * for others to share its statement, or for the recorder to carry it in the
 * statement that records the next events (carryOutcomes), which under load
 * starts within the recorder's spacing (consumer_record_spacing_ms, 150 ms):
 * twice that, so the recorder nearly always comes first while events flow.
 * Nothing waits on the record but the delivery list, the retry's clock (a
 * retry is due its delay after the record) and the attempt's slot: an
 * attempt not yet recorded when push dies is made again, never lost.
 */
export const webhook_record_linger_ms = 300;
/** Shutdown waits this long for attempts in flight; the rest run out their lease and are retried. */
export const webhook_shutdown_wait_ms = webhook_timeout_ms + 2_000;

/**
 * Slots held for deliveries the recorder is about to make claimed, in the
 * statement that records their events: `taken` says which candidates have
 * one. After that statement, `settle` starts the deliveries it made claimed
 * and frees the other slots (all of them when the statement failed: pass []).
 */
export interface SlotReservation {
  readonly claim_id: string;
  readonly taken: readonly boolean[];
  settle(claims: readonly ClaimedDelivery[]): void;
}

/** A recorded attempt: whether its claim was still ours, and how long its endpoint has only failed (null: it is healthy). */
interface RecordedAttempt {
  recorded: boolean;
  failing_ms: number | null;
}

/** An attempt waiting for its record, with when its endpoint was last enabled. */
type FinishedAttempt = AttemptRecord & { enabled_since_ms: number | null };

/**
 * Attempt outcomes handed to the recorder (carryOutcomes): it records them
 * in its statement, then settles them with what that statement answered, or
 * gives them back when the statement failed (the worker records them itself).
 */
export interface CarriedOutcomes {
  readonly attempts: readonly AttemptRecord[];
  readonly health: readonly EndpointHealthUpdate[];
  settle(recorded: RecordedAttempts): void;
  giveBack(): void;
}

/**
 * Delivers webhooks at its own pace: claims due rows with SKIP LOCKED (so
 * replicas share the work), has merchants sign all it claimed in one
 * request, runs each attempt on its own (a slow merchant holds only its own
 * slots), and records outcomes with the retry schedule, the attempts that
 * finish together (or within webhook_record_linger_ms) in one statement, or
 * in the recorder's next statement when it comes first (carryOutcomes).
 * The deliveries the recorder made claimed for it (`reserve`) start right
 * after the recorder's commit; the recorder wakes it for the ones it left
 * unclaimed.
 */
@Injectable()
export class WebhookDeliveryWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WebhookDeliveryWorker.name);
  private readonly in_flight = new Set<Promise<void>>();
  private readonly in_flight_by_merchant = new Map<string, number>();
  /** Slots held by reservations and by the claim statement in progress. */
  private reserved = 0;
  private readonly reserved_by_merchant = new Map<string, number>();
  /** When this replica's own retries come due (those sooner than the next poll), Unix ms. */
  private readonly retries_due_ms: number[] = [];
  /** When the last claim began: a retry due before then was there for it to find. */
  private claim_started_ms = 0;
  private stopped = false;
  private wakeUp: (() => void) | undefined;
  private sleeping_until_ms = Number.POSITIVE_INFINITY;
  private woken = false;
  /** The last claim was cut short by the bounds: a finished attempt frees a slot for what is waiting. */
  private starved = false;
  private loop: Promise<void> | undefined;
  private readonly attempts = new WriteBatcher<FinishedAttempt, RecordedAttempt>((batch) => this.recordBatch(batch), {
    batch_max: webhook_record_batch_max,
    linger_ms: webhook_record_linger_ms,
  });

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

  /**
   * Slots for deliveries of these merchants (one entry per delivery), within
   * the same bounds as a claim: the recorder makes the ones taken claimed,
   * and the worker attempts them once it settles. Synchronous, so no claim
   * or other reservation can take the same slots meanwhile.
   */
  reserve(merchants: readonly string[]): SlotReservation {
    const held = new Map<string, number>();
    let total = 0;
    const taken = merchants.map((merchant) => {
      if (this.stopped || this.in_flight.size + this.reserved >= webhook_in_flight_max) return false;
      if (this.inFlightOf(merchant) >= webhook_in_flight_per_merchant_max) return false;
      this.hold(merchant, 1);
      held.set(merchant, (held.get(merchant) ?? 0) + 1);
      total += 1;
      return true;
    });
    let settled = false;
    return {
      claim_id: randomUUID(),
      taken,
      settle: (claims) => {
        if (settled) return;
        settled = true;
        for (const [merchant, count] of held) this.hold(merchant, -count);
        // Stopping: a claim left alone runs out its lease and is retried by whichever replica is up.
        if (claims.length > 0 && !this.stopped) this.startAll(claims);
        else if (total > 0 && this.starved) this.wake();
      },
    };
  }

  /** In flight and held for one merchant. */
  private inFlightOf(merchant: string): number {
    return (this.in_flight_by_merchant.get(merchant) ?? 0) + (this.reserved_by_merchant.get(merchant) ?? 0);
  }

  private hold(merchant: string, count: number): void {
    this.reserved += count;
    const left = (this.reserved_by_merchant.get(merchant) ?? 0) + count;
    if (left <= 0) this.reserved_by_merchant.delete(merchant);
    else this.reserved_by_merchant.set(merchant, left);
  }

  /** A retry of ours comes due then: look at that time rather than at the next poll. */
  private wakeAt(at_ms: number): void {
    if (at_ms - Date.now() >= webhook_poll_interval_ms) return;
    this.retries_due_ms.push(at_ms);
    if (this.wakeUp !== undefined && at_ms < this.sleeping_until_ms) this.wakeUp();
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
    // Set even when the bounds stop it: what is due then waits for a freed slot, which wakes the loop.
    this.claim_started_ms = Date.now();
    const free = webhook_in_flight_max - this.in_flight.size - this.reserved;
    if (free <= 0) {
      this.starved = true;
      return false;
    }
    const limit = Math.min(webhook_batch_max, free);
    const merchants = new Set([...this.in_flight_by_merchant.keys(), ...this.reserved_by_merchant.keys()]);
    const busy_merchants = [...merchants].filter((merchant) => this.inFlightOf(merchant) >= webhook_in_flight_per_merchant_max);
    // The claim's slots are held while it runs, so a reservation meanwhile cannot take them too.
    this.reserved += limit;
    let claims: ClaimedDelivery[];
    try {
      claims = await claimDueDeliveries(this.dataSource.manager, {
        limit,
        busy_merchants,
        per_merchant_max: webhook_in_flight_per_merchant_max,
        candidates_max: webhook_claim_candidates_max,
        lease_ms: webhook_lease_ms,
      });
    } finally {
      this.reserved -= limit;
    }
    // Merchants at their bound may have more due: a slot they free is worth a look.
    this.starved = busy_merchants.length > 0 || claims.length === limit;
    if (claims.length === 0) return false;
    this.startAll(claims);
    return claims.length === limit;
  }

  /** Signs what was claimed (one request) and starts each attempt. */
  private startAll(claims: readonly ClaimedDelivery[]): void {
    const signed = this.signAll(claims, Math.floor(Date.now() / 1_000));
    claims.forEach((claim, index) => this.start(claim, signed.then((all) => all[index] ?? null)));
  }

  /**
   * Runs one attempt in one of its merchant's slots. The slot bounds the
   * requests open to the merchant's endpoint, so it is freed as soon as the
   * POST has its answer (or there is none to send), not when the outcome is
   * recorded: that record may wait for the recorder's next statement
   * (webhook_record_linger_ms), and holding the slot through it capped a busy
   * merchant at its slots per record interval (about 50 webhooks a second).
   * The claim stays leased until the record, so nothing else sends it meanwhile.
   */
  private start(claim: ClaimedDelivery, signed: Promise<SignedWebhook | null>): void {
    this.in_flight_by_merchant.set(claim.merchant_id, (this.in_flight_by_merchant.get(claim.merchant_id) ?? 0) + 1);
    webhook_deliveries_in_flight.inc();
    let held = true;
    const freeSlot = () => {
      if (!held) return;
      held = false;
      const left = (this.in_flight_by_merchant.get(claim.merchant_id) ?? 1) - 1;
      if (left === 0) this.in_flight_by_merchant.delete(claim.merchant_id);
      else this.in_flight_by_merchant.set(claim.merchant_id, left);
      webhook_deliveries_in_flight.dec();
      // A slot is free: anything waiting for one may go now.
      if (this.starved) this.wake();
    };
    const task = this.attempt(claim, signed, freeSlot)
      .catch((error: unknown) => this.logger.error({ err: error, delivery: claim.id }, 'webhook attempt failed unexpectedly'))
      .finally(() => {
        this.in_flight.delete(task);
        freeSlot();
      });
    this.in_flight.add(task);
  }

  /**
   * POST with the signature merchants made (it answers the endpoint's URL as
   * it is now: a retry goes there), free the slot, then record. No transaction is open meanwhile.
   */
  private async attempt(claim: ClaimedDelivery, signing: Promise<SignedWebhook | null>, freeSlot: () => void): Promise<void> {
    const signed = await signing;
    if (signed === null) return;
    const result = await this.sender.send({ url: signed.url, msg_id: claim.event_id, timestamp: signed.timestamp, signature: signed.signature, payload: claim.payload });
    freeSlot();
    const outcome = outcomeOfAttempt(claim.attempts, result, this.config.WEBHOOK_RETRY_SCALE);
    const { recorded, failing_ms } = await this.attempts.add({ claim, url: signed.url, outcome, enabled_since_ms: signed.enabled_since_ms ?? null });
    webhook_attempts_total.inc({ status: outcome.status });
    if (recorded && outcome.status === 'pending') this.wakeAt(Date.now() + (outcome.retry_after_ms ?? 0));
    if (!recorded) this.logger.warn({ delivery: claim.id }, 'webhook claim ran out before the attempt was recorded');
    if (outcome.status === 'failed') {
      this.logger.warn({ delivery: claim.id, event: claim.event_id, merchant: claim.merchant_id }, 'webhook delivery failed after the last attempt');
    }
    if (claim.endpoint_id !== null) await this.judgeEndpoint(claim.merchant_id, claim.endpoint_id, outcome, failing_ms);
  }

  /**
   * The outcomes waiting for their record, for the recorder to write in the
   * statement that records its events: one transaction for both. Undefined
   * when none wait.
   */
  carryOutcomes(): CarriedOutcomes | undefined {
    const taken = this.attempts.take(webhook_record_batch_max);
    if (taken === undefined) return undefined;
    return {
      attempts: taken.items,
      health: healthOf(taken.items),
      settle: (recorded) => taken.settle(resultsOf(taken.items, recorded)),
      giveBack: () => taken.giveBack(),
    };
  }

  /** The attempts that finished together, and their endpoints' health, in one statement. */
  private async recordBatch(batch: readonly FinishedAttempt[]): Promise<RecordedAttempt[]> {
    return resultsOf(batch, await recordAttempts(this.dataSource.manager, batch, healthOf(batch)));
  }

  /** 410 disables an endpoint at once; so do five days (scaled) of nothing but failures. */
  private async judgeEndpoint(merchant_id: string, endpoint_id: string, outcome: AttemptOutcome, failing_ms: number | null): Promise<void> {
    const manager = this.dataSource.manager;
    if (outcome.last_status_code === gone_status_code) {
      await this.endpoints.disable(manager, merchant_id, endpoint_id, 'gone');
    } else if (failing_ms !== null && failing_ms >= webhook_failing_days_max * day_ms * this.config.WEBHOOK_RETRY_SCALE) {
      await this.endpoints.disable(manager, merchant_id, endpoint_id, 'failing');
    }
  }

  /**
   * Every claim's signature, asked of merchants in as few requests as the
   * message size allows; null for a claim settled otherwise (released for
   * later when merchants could not sign, or abandoned).
   */
  private async signAll(claims: readonly ClaimedDelivery[], timestamp: number): Promise<(SignedWebhook | null)[]> {
    const chunks: ClaimedDelivery[][] = [];
    let bytes = 0;
    for (const claim of claims) {
      const size = Buffer.byteLength(claim.payload);
      const last = chunks.at(-1);
      if (last === undefined || bytes + size > webhook_sign_request_bytes_max) {
        chunks.push([claim]);
        bytes = size;
      } else {
        last.push(claim);
        bytes += size;
      }
    }
    const signed = await Promise.all(chunks.map((chunk) => this.signChunk(chunk, timestamp)));
    return signed.flat();
  }

  private async signChunk(claims: readonly ClaimedDelivery[], timestamp: number): Promise<(SignedWebhook | null)[]> {
    let reply: SignWebhooksReply;
    try {
      reply = await this.rpc.request<SignWebhooksReply>(
        Subjects.merchants.webhooksSign,
        {
          webhooks: claims.map((claim) => ({
            merchant_id: claim.merchant_id,
            ...(claim.endpoint_id === null ? {} : { endpoint_id: claim.endpoint_id }),
            msg_id: claim.event_id,
            timestamp,
            payload: claim.payload,
          })),
        },
        { timeout_ms: webhook_sign_timeout_ms },
      );
    } catch (error) {
      this.logger.warn({ err: error, deliveries: claims.length }, 'could not sign webhooks; will retry');
      const manager = this.dataSource.manager;
      await Promise.all(claims.map((claim) => releaseClaim(manager, claim, webhook_sign_retry_delay_ms, 'could not sign: merchants unavailable')));
      this.wakeAt(Date.now() + webhook_sign_retry_delay_ms);
      return claims.map(() => null);
    }
    return Promise.all(claims.map((claim, index) => this.settle(claim, reply.signed[index], timestamp)));
  }

  /** One claim's signature, or null once the claim is abandoned because nobody is listening any more. */
  private async settle(claim: ClaimedDelivery, answer: SignWebhooksReply['signed'][number] | undefined, timestamp: number): Promise<SignedWebhook | null> {
    const manager = this.dataSource.manager;
    if (answer === undefined) {
      await releaseClaim(manager, claim, webhook_sign_retry_delay_ms, 'could not sign: merchants answered too few signatures');
      this.wakeAt(Date.now() + webhook_sign_retry_delay_ms);
      return null;
    }
    if ('merchant_missing' in answer) {
      await abandonClaim(manager, claim, 'the merchant no longer exists');
      return null;
    }
    if (answer.url === null) {
      // The endpoint is disabled or deleted: nobody is listening any more.
      await abandonClaim(manager, claim, 'the endpoint is disabled or deleted');
      return null;
    }
    if (claim.endpoint_id !== null && answer.enabled_since_ms !== undefined && Number(claim.created_ms) < answer.enabled_since_ms) {
      // Made before the endpoint was last enabled: it was disabled meanwhile, which ended this delivery.
      await abandonClaim(manager, claim, 'the endpoint was disabled meanwhile');
      return null;
    }
    return { ...answer, url: answer.url, timestamp };
  }

  /** Until woken, the next retry of ours comes due, or the poll interval ends. */
  private sleep(timeout_ms: number): Promise<void> {
    const now = Date.now();
    // A retry due before the last claim began was found by it; one due since then wakes the loop (at once if due already).
    const later = this.retries_due_ms.filter((at_ms) => at_ms >= this.claim_started_ms);
    this.retries_due_ms.splice(0, this.retries_due_ms.length, ...later);
    if (this.woken || this.stopped) {
      this.woken = false;
      return Promise.resolve();
    }
    const until_ms = Math.min(now + timeout_ms, ...later);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        this.sleeping_until_ms = Number.POSITIVE_INFINITY;
        this.woken = false;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, until_ms - now));
      this.sleeping_until_ms = until_ms;
      this.wakeUp = done;
    });
  }
}

/** What a batch of attempts says of each endpoint's health, in the order they finished. */
function healthOf(batch: readonly FinishedAttempt[]): EndpointHealthUpdate[] {
  const health = new Map<string, EndpointHealthUpdate>();
  for (const { claim, outcome, enabled_since_ms } of batch) {
    if (claim.endpoint_id === null) continue;
    const before = health.get(claim.endpoint_id);
    const succeeded = outcome.status === 'succeeded';
    const state = succeeded ? 'succeeded' : before === undefined || before.state === 'failed' ? 'failed' : 'failed_after_success';
    const since = Math.max(before?.enabled_since_ms ?? 0, enabled_since_ms ?? 0);
    health.set(claim.endpoint_id, { endpoint_id: claim.endpoint_id, merchant_id: claim.merchant_id, state, enabled_since_ms: since === 0 ? null : since });
  }
  return [...health.values()];
}

/** Each attempt's part of what its batch's statement answered. */
function resultsOf(batch: readonly FinishedAttempt[], { recorded, failing_ms }: RecordedAttempts): RecordedAttempt[] {
  return batch.map(({ claim }) => ({
    recorded: recorded.has(claim.id),
    failing_ms: claim.endpoint_id === null ? null : (failing_ms.get(claim.endpoint_id) ?? null),
  }));
}

/** A signature merchants made, with the URL to send it to and the timestamp it signed. */
type SignedWebhook = SignWebhookReply & { url: string; timestamp: number };

function delay(timeout_ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, timeout_ms).unref());
}
