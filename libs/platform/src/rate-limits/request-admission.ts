import { type CallHandler, type ExecutionContext, Inject, Injectable, type NestInterceptor } from '@nestjs/common';
import { ApiError, ErrorCode } from '@paynet/contracts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { finalize, type Observable } from 'rxjs';
import { type BaseConfig, CONFIG, concurrentRequestsPerPrincipal } from '../config/config.js';
import { FairQueue, type Pace, type Slot } from './fair-queue.js';
import { rate_limited_total, watchAdmission } from './rate-limit.metrics.js';
import { replicaShare } from './rate-limits.js';
import { ReplicaCensus } from './replica-census.js';

/** A principal over its bound of pending requests may try again this soon: one of them will have finished. */
export const concurrency_retry_after_seconds = 1;

/**
 * The concurrent requests limiter beside the rate limits (docs/SECURITY.md,
 * "Rate limits"): a FairQueue of this replica's MAX_CONCURRENT_REQUESTS
 * slots, at most MAX_CONCURRENT_REQUESTS_PER_PRINCIPAL of them held and
 * MAX_PENDING_REQUESTS_PER_PRINCIPAL held or waiting per key, held from the
 * guard until the response is finished (its `close`, which every path
 * reaches: answer, error, the client going away) and the handler, if it
 * started, has settled (AdmissionInterceptor): a client that disconnects
 * does not free a slot while its handler still works. Each key is paced at
 * its share of its rate budget (RATE_LIMIT_PER_SECOND for a principal,
 * RATE_LIMIT_UNAUTHENTICATED_PER_SECOND for an address): RATE_LIMIT_BURST
 * requests at once, then one per (1 s / share), so a budget spent in a
 * burst is served over its second.
 */
@Injectable()
export class RequestAdmission {
  readonly queue: FairQueue;

  constructor(
    @Inject(CONFIG) private readonly config: BaseConfig,
    census: ReplicaCensus,
  ) {
    const share = (replicas: number) => ({
      principal: pace(config.RATE_LIMIT_PER_SECOND, replicas, config.RATE_LIMIT_BURST),
      address: pace(config.RATE_LIMIT_UNAUTHENTICATED_PER_SECOND, replicas, config.RATE_LIMIT_BURST),
    });
    let paces = share(census.replicas);
    census.onChange((replicas) => (paces = share(replicas)));
    this.queue = new FairQueue(config.MAX_CONCURRENT_REQUESTS, config.MAX_PENDING_REQUESTS_PER_PRINCIPAL, concurrentRequestsPerPrincipal(config), {
      pace: (key) => (key.startsWith('principal:') ? paces.principal : paces.address),
      reserved: reservedSlots(config.MAX_CONCURRENT_REQUESTS),
    });
    watchAdmission(this.queue);
  }

  /**
   * Holds a slot for `key` (`principal:<scope>` or `address:<address>`) until
   * `response` closes; waits in turn when all are held. 429 when the key
   * already has its bound pending. False when the client went away while it
   * waited: nothing may run for it.
   */
  async admit(key: string, request: IncomingMessage, response: ServerResponse): Promise<boolean> {
    const slot = this.queue.enter(key);
    if (slot === undefined) throw this.refusal();
    if (closed(response)) {
      slot.release();
      return false;
    }
    const turn = new Turn(slot);
    (request as AdmittedRequest)[turn_of_request] = turn;
    response.once('close', () => turn.drop());
    return slot.state === 'held' || slot.held();
  }

  private refusal(): ApiError {
    rate_limited_total.inc({ budget: 'concurrency' });
    return this.refusalError();
  }

  /** The 429 of a key at its bound of pending requests (no count: the caller counts it). */
  refusalError(): ApiError {
    const max = this.config.MAX_PENDING_REQUESTS_PER_PRINCIPAL;
    const message = `Too many requests at once for this API key, token or address: at most ${max} in flight and waiting on this server; retry when one has been answered.`;
    return Object.assign(new ApiError(429, 'rate_limit_error', ErrorCode.too_many_concurrent_requests, message), {
      retry_after_seconds: concurrency_retry_after_seconds,
    });
  }
}

/** Pure: the slots a replica keeps for principals that hold none while others are active: a quarter, rounded down (2 of the default 8). */
export function reservedSlots(capacity: number): number {
  return Math.floor(capacity / 4);
}

/** Pure: how a key with `budget` requests a second across `replicas` is paced on one of them: its share spread over the second after `burst` at once. */
export function pace(budget: number, replicas: number, burst: number): Pace {
  const share = replicaShare(budget, replicas);
  return { interval_ms: 1_000 / share, burst: Math.min(burst, share) };
}

/** The response can no longer be written: answered already, or the connection is gone. */
function closed(response: ServerResponse): boolean {
  return response.writableEnded || response.destroyed || response.socket?.destroyed === true;
}

const turn_of_request = Symbol('paynet:admission-turn');
type AdmittedRequest = IncomingMessage & { [turn_of_request]?: Turn };

/** A slot kept while anything holds it: the open response, and the handler while it runs. */
class Turn {
  private holders = 1;

  constructor(private readonly slot: Slot) {}

  hold(): void {
    this.holders++;
  }

  drop(): void {
    if (--this.holders === 0) this.slot.release();
  }
}

/**
 * Keeps the request's slot while its handler runs, even when the client has
 * gone and the response closed: the work is still being done. First of the
 * interceptors, so it spans them all.
 */
@Injectable()
export class AdmissionInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const turn = context.switchToHttp().getRequest<AdmittedRequest>()[turn_of_request];
    if (turn === undefined) return next.handle();
    turn.hold();
    return next.handle().pipe(finalize(() => turn.drop()));
  }
}
