import { Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import type { IncomingMessage, OutgoingHttpHeaders, RequestListener, Server, ServerResponse } from 'node:http';
import { acceptId } from '../observability/request-context.js';
import { rate_limited_total } from './rate-limit.metrics.js';
import { rate_limit_exempt_path } from './rate-limit-exempt.js';
import { type Budget, claimedCredential, RateLimits } from './rate-limits.js';
import { concurrency_retry_after_seconds, RequestAdmission } from './request-admission.js';

/** Routes that take credentials (`@Auth`): all of /v1, as Express matches it (case-insensitive). The others are public and count against the address. */
const authenticated_path = /^\/v1\//i;

type Refused = Budget | 'concurrency';

/** Refused answers held at once by one replica at most (refusal pacing); past it, refusals are answered at once. */
export const refusals_held_max = 1_024;
/** Keys (principals, addresses) whose window's first refusal is remembered, at most: the least recent go first. */
export const refused_keys_max = 10_000;

/**
 * The door (docs/SECURITY.md, Rate limits): the first thing a request meets,
 * in front of Express (the HTTP server's request listener), so before its
 * body is read, before the request id, metrics, logging, routing and Nest's
 * guards, pipes and filters. A request whose budget is spent in
 * this window (RateLimits.atTheDoor: the same budget beforeCheck would charge,
 * counted without charging it) or whose principal or address has its bound of
 * requests pending (FairQueue.full) is answered 429 at once, with Retry-After,
 * a `Request-Id` (the client's `X-Request-Id` if it is a valid one, as for
 * every answer) and a body made once; nothing else runs for it, and it is
 * counted in `paynet_rate_limited_total` only (not logged, not in the HTTP
 * metrics).
 * Everything else goes on to the AuthGuard, which charges and admits it as
 * before: the door only refuses early what the guard would refuse, so a
 * client that ignores Retry-After costs a header parse and a map lookup.
 *
 * Refusal pacing: a spent budget's first refusal in its window is answered
 * at once (a client that obeys Retry-After hears it at once and waits); any
 * more in the same window are each held for their Retry-After from when
 * they arrived, then answered the same (at most refusals_held_max held per
 * replica, beyond which they are answered at once). Not until the window
 * ends: answers released together come back together, a burst of requests
 * at the start of every window (docs/BENCHMARKS.md, Flood). A client that asks again as soon as it is refused
 * therefore gets one answer per request it has open per window, not one per
 * round trip: a retry loop with 32 requests open costs about 32 refusals a
 * second instead of hundreds, and the CPU they took goes back to the others.
 */
@Injectable()
export class EarlyRefusal {
  private readonly answers = new Map<string, { headers: OutgoingHttpHeaders; body: string }>();
  /** Per key refused in its window: when that window ends (performance.now() ms). */
  private readonly refused_until = new LRUCache<string, number>({ max: refused_keys_max });
  private held = 0;
  private readonly refused = {
    principal: rate_limited_total.labels('principal'),
    address: rate_limited_total.labels('address'),
    concurrency: rate_limited_total.labels('concurrency'),
  } satisfies Record<Refused, unknown>;

  constructor(
    private readonly limits: RateLimits,
    private readonly admission: RequestAdmission,
  ) {}

  /** Puts the door in front of `server`'s one request listener (the Express app): bootstrap, before listening. */
  guard(server: Server): void {
    const listeners = server.listeners('request') as RequestListener[];
    const [app] = listeners;
    if (listeners.length !== 1 || app === undefined) throw new Error(`EarlyRefusal expects the HTTP server to have one request listener, found ${listeners.length}`);
    server.removeListener('request', app);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => this.check(request, response, () => app(request, response)));
  }

  /** Answers 429 at once, or lets the request `pass` on. */
  check(request: IncomingMessage, response: ServerResponse, next: () => void): void {
    const url = request.url ?? '/';
    if (rate_limit_exempt_path.test(url)) return next();
    let address: string;
    let claimed: string | undefined;
    try {
      address = this.limits.clientAddress(request);
      claimed = authenticated_path.test(url) ? claimedCredential(request) : undefined;
    } catch {
      // Nothing to tell by (the socket already gone): the guard decides.
      return next();
    }
    this.limits.atTheDoor(address, claimed).then(
      (door) => {
        if (door.spent === undefined && !this.admission.queue.full(door.key)) return next();
        response.setHeader('Request-Id', acceptId(request.headers['x-request-id']));
        if (door.spent !== undefined) this.refuseSpent(door.key, response, door.spent.budget, door.spent.retry_after_seconds, door.spent.window_ends_in_ms);
        else this.refuse(response, 'concurrency', concurrency_retry_after_seconds);
      },
      () => next(),
    );
  }

  /** A spent budget's refusal: at once if it is its window's first, else when the window ends (refusal pacing, above). */
  private refuseSpent(key: string, response: ServerResponse, budget: Budget, retry_after_seconds: number, window_ends_in_ms: number): void {
    const now = performance.now();
    const until = this.refused_until.get(key);
    if (until === undefined || until <= now) {
      this.refused_until.set(key, now + window_ends_in_ms);
      return this.refuse(response, budget, retry_after_seconds);
    }
    if (this.held >= refusals_held_max) return this.refuse(response, budget, retry_after_seconds);
    this.held += 1;
    setTimeout(() => {
      this.held -= 1;
      if (!response.destroyed) this.refuse(response, budget, retry_after_seconds);
    }, retry_after_seconds * 1_000).unref();
  }

  private refuse(response: ServerResponse, refused: Refused, retry_after_seconds: number): void {
    this.refused[refused].inc();
    const answer = this.answer(refused, retry_after_seconds);
    response.writeHead(429, answer.headers);
    // The body, if any, is never read: Node discards it once this answer is sent. A string: headers and body go in one write.
    response.end(answer.body, 'utf8');
  }

  /** The answer, made once per budget and Retry-After (always 1 s with one-second windows). */
  private answer(refused: Refused, retry_after_seconds: number): { headers: OutgoingHttpHeaders; body: string } {
    const cache_key = `${refused}:${retry_after_seconds}`;
    let answer = this.answers.get(cache_key);
    if (answer === undefined) {
      const error = refused === 'concurrency' ? this.admission.refusalError() : this.limits.refusalError(refused, retry_after_seconds);
      const body = JSON.stringify(error.toBody());
      answer = {
        headers: { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'retry-after': String(retry_after_seconds) },
        body,
      };
      this.answers.set(cache_key, answer);
    }
    return answer;
  }
}
