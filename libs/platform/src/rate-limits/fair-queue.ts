/** How fast a key's slot-time is forgotten: what it held a second ago counts half. */
export const slot_time_half_life_ms = 1_000;
/** A key with nothing holding or waiting is remembered this long: it still counts as active (others stay capped) and keeps its slot-time. */
export const idle_key_memory_ms = 2_000;
/** Idle keys remembered at most; past it the longest idle are forgotten first. */
export const idle_keys_max = 10_000;
/** Waiting keys below their cap compared per free slot (from the front of the ring): bounds the work per grant. */
export const turns_compared_max = 32;

/**
 * How a key's requests are spread over time (pacing): after `burst` started
 * at once, at most one starts every `interval_ms` (a GCRA: the leaky bucket
 * as a meter, shaping rather than refusing).
 */
export interface Pace {
  interval_ms: number;
  burst: number;
}

/** When the queue wakes to hand out a slot a paced request is due for; the default is a Node timer that does not keep the process alive. */
export interface Wakeup {
  set(delay_ms: number, wake: () => void): unknown;
  clear(handle: unknown): void;
}

/** FairQueue's optional parts: its clock, pacing, timers and reserve. */
export interface FairQueueOptions {
  /** Milliseconds, monotonic (default performance.now). */
  now?: () => number;
  /** How each key is paced; undefined for a key: not paced (default: none is). */
  pace?: (key: string) => Pace | undefined;
  wakeup?: Wakeup;
  /** Slots kept, while more than one key is active, for keys that hold none (default 0). */
  reserved?: number;
}

const node_wakeup: Wakeup = {
  set: (delay_ms, wake) => setTimeout(wake, delay_ms).unref(),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Fair admission (docs/SECURITY.md, "Rate limits"): at most `capacity`
 * requests hold a slot at once, and what a key (a principal, or a client
 * address) may take is weighed by its slot-time: the time its requests held
 * slots, halved every `slot_time_half_life_ms`, plus what they hold now.
 *
 * - Free slots go to the waiting key with the least slot-time, so a key
 *   whose requests hold slots long gets fewer turns than one whose requests
 *   are quick, and a key with an occasional request goes before a flood's
 *   next (keys that always wait converge to equal shares of slot-time).
 * - A key whose slot-time is above the mean of the active keys (those
 *   holding, waiting, or idle for less than `idle_key_memory_ms`) holds at
 *   most `per_key_held_max` slots and waits even while slots are free, so
 *   they stay free for the others, who find one at once. A key alone, or at
 *   or below the mean, may hold every slot: the cap never serialises a key
 *   nobody else needs the slots for, nor a light key next to a heavy one.
 * - The last `reserved` free slots go only to keys that hold none while
 *   more than one key is active: a principal with a request now and then
 *   finds a slot at once even while new keys (whose slot-time is still
 *   nothing, so none is above the mean) take the rest, as a flood's first
 *   requests do under its client address and then under its principal.
 * - A key has at most `per_key_max` requests holding or waiting.
 * - Pacing (`pace`, when given for the key): a key's requests are spread
 *   over time, so a principal that spends its budget of a second in its
 *   first milliseconds (a flood, whose refused requests come back at once)
 *   takes the slots, the CPU behind them and the services it calls at a
 *   steady rate, not in a burst at the start of each window. Each request
 *   is given the earliest time it may start when it enters (GCRA: the
 *   key's `burst` requests at once, then one per `interval_ms`); it waits
 *   until then even while slots are free, and counts as pending meanwhile.
 *
 * O(1) per request but for the comparison of at most `turns_compared_max`
 * waiting keys (plus the capped ones passed over: at most capacity /
 * per_key_held_max) per free slot: keys with waiters form a ring (a Map in
 * insertion order; a served key moves to the end, so equal slot-times are
 * served round-robin), each key's waiters a doubly linked list (a cancelled
 * waiter leaves in O(1)), and the mean comes from running totals. Memory:
 * the keys with requests in the server, and at most `idle_keys_max` idle
 * ones, each forgotten `idle_key_memory_ms` after its last request.
 */
export class FairQueue {
  private held = 0;
  private queued = 0;
  private readonly keys = new Map<string, KeyState>();
  /** The keys with nothing pending still remembered, longest idle first. */
  private readonly idle = new Map<string, KeyState>();
  /** The keys with waiters, in the order they are compared for the next slot. */
  private readonly turns = new Map<string, KeyState>();
  /** The remembered keys' slot-time of released slots (ms), as of `used_total_at_ms`, and the grant times of the held slots: their mean slot-time in O(1). */
  private used_total_ms = 0;
  private used_total_at_ms = 0;
  private held_since_total_ms = 0;
  /** Pacing: the earliest due time nextTurn passed over, and the timer set for the earliest. */
  private next_due_ms = Infinity;
  private wake: unknown;
  private wake_at_ms = Infinity;

  /** Milliseconds, monotonic. */
  private readonly now: () => number;
  /** How each key is paced (undefined: not paced). */
  private readonly pace: (key: string) => Pace | undefined;
  private readonly wakeup: Wakeup;
  /** Slots kept, while more than one key is active, for keys that hold none (see the class comment). */
  readonly reserved: number;

  constructor(
    readonly capacity: number,
    readonly per_key_max: number,
    readonly per_key_held_max: number = capacity,
    options: FairQueueOptions = {},
  ) {
    this.now = options.now ?? (() => performance.now());
    this.pace = options.pace ?? (() => undefined);
    this.wakeup = options.wakeup ?? node_wakeup;
    this.reserved = options.reserved ?? 0;
    if (!(Number.isInteger(capacity) && capacity >= 1)) throw new RangeError('capacity must be an integer >= 1');
    if (!(Number.isInteger(per_key_max) && per_key_max >= 1)) throw new RangeError('per_key_max must be an integer >= 1');
    if (!(Number.isInteger(per_key_held_max) && per_key_held_max >= 1)) throw new RangeError('per_key_held_max must be an integer >= 1');
    if (!(Number.isInteger(this.reserved) && this.reserved >= 0 && this.reserved < capacity)) throw new RangeError('reserved must be an integer from 0 to capacity - 1');
  }

  /** Slots held now. */
  get in_flight(): number {
    return this.held;
  }

  /** Requests waiting for a slot now. */
  get waiting(): number {
    return this.queued;
  }

  /** Keys remembered: those with a request holding or waiting, and the recently idle. */
  get keys_known(): number {
    return this.keys.size;
  }

  /** Keys with a request holding or waiting. */
  get keys_pending(): number {
    return this.keys.size - this.idle.size;
  }

  /** Would `key` be refused now (it has `per_key_max` holding or waiting)? Changes nothing. */
  full(key: string): boolean {
    return (this.keys.get(key)?.pending ?? 0) >= this.per_key_max;
  }

  /**
   * How many slots `key` may hold now: all while it is the only active key,
   * or while its slot-time is no more than the active keys' mean (a light
   * key is never held back); `per_key_held_max` while it is above.
   */
  cap(key: string): number {
    const state = this.keys.get(key);
    // A key not remembered has no slot-time: at most the mean.
    if (state === undefined) return this.capacity;
    return this.capOf(state, this.now());
  }

  private capOf(state: KeyState, now_ms: number): number {
    if (this.keys.size <= 1) return this.capacity;
    const mean_ms = (decay(this.used_total_ms, this.used_total_at_ms, now_ms) + this.held * now_ms - this.held_since_total_ms) / this.keys.size;
    // A margin for rounding: equal keys are not over the mean.
    return score(state, now_ms) > mean_ms + slot_time_margin_ms ? Math.min(this.capacity, this.per_key_held_max) : this.capacity;
  }

  /** The reserve: a key that holds a slot takes another only while more than `reserved` are free, unless it is the only active key. */
  private mayTake(state: KeyState): boolean {
    return state.held === 0 || this.keys.size <= 1 || this.capacity - this.held > this.reserved;
  }

  /** The key's slot-time now (ms): what it held recently, decayed, plus what it holds. */
  slotTime(key: string): number {
    const state = this.keys.get(key);
    return state === undefined ? 0 : score(state, this.now());
  }

  /**
   * A slot for `key`: held at once when one is free, the key holds fewer
   * than its cap and none of its requests waits, otherwise queued. Undefined
   * when the key already has `per_key_max` holding or waiting: refuse the request.
   */
  enter(key: string): Slot | undefined {
    const now_ms = this.now();
    this.forget(now_ms);
    let state = this.keys.get(key);
    if (state === undefined) {
      state = { key, pending: 0, held: 0, waiting: 0, first: undefined, last: undefined, used_ms: 0, used_at_ms: now_ms, held_since_sum_ms: 0, idle_since_ms: 0, paced_until_ms: 0 };
      this.keys.set(key, state);
    } else if (state.pending >= this.per_key_max) {
      return undefined;
    }
    this.idle.delete(key);
    state.pending++;
    const slot = new Slot(this, state);
    slot.due_ms = this.schedule(state, now_ms);
    // A free slot means nobody below their cap and due waits (dispatch fills it at once otherwise); a key's own requests keep their order.
    if (this.held < this.capacity && state.held < this.capOf(state, now_ms) && this.mayTake(state) && state.waiting === 0 && slot.due_ms <= now_ms) {
      this.hold(state, slot, now_ms);
      slot.state = 'held';
    } else {
      this.enqueue(state, slot);
    }
    // Keys forgotten just now may have lifted another's cap.
    this.dispatch(now_ms);
    return slot;
  }

  /** @internal Slot.release: gives back a held slot, or leaves the queue. */
  leave(slot: Slot, was: 'held' | 'waiting'): void {
    const now_ms = this.now();
    const state = slot.owner;
    state.pending--;
    if (was === 'held') {
      this.held--;
      state.held--;
      const held_ms = Math.max(0, now_ms - slot.granted_at_ms);
      state.used_ms = decayed(state, now_ms) + held_ms;
      state.used_at_ms = now_ms;
      state.held_since_sum_ms -= slot.granted_at_ms;
      this.used_total_ms = decay(this.used_total_ms, this.used_total_at_ms, now_ms) + held_ms;
      this.used_total_at_ms = now_ms;
      this.held_since_total_ms -= slot.granted_at_ms;
    } else {
      this.dequeue(state, slot);
    }
    if (state.pending === 0) {
      state.held_since_sum_ms = 0;
      state.idle_since_ms = now_ms;
      this.idle.set(state.key, state);
    }
    this.forget(now_ms);
    this.dispatch(now_ms);
  }

  /** Pacing: when this request of `state`'s may start (GCRA), the key's schedule moved on by one. */
  private schedule(state: KeyState, now_ms: number): number {
    const pace = this.pace(state.key);
    if (pace === undefined || !(pace.interval_ms > 0)) return now_ms;
    const theoretical_ms = Math.max(state.paced_until_ms, now_ms);
    state.paced_until_ms = theoretical_ms + pace.interval_ms;
    return Math.max(now_ms, theoretical_ms - (Math.max(1, pace.burst) - 1) * pace.interval_ms);
  }

  /** Forgets the keys idle for `idle_key_memory_ms`, and the longest idle past `idle_keys_max`. */
  private forget(now_ms: number): void {
    for (const state of this.idle.values()) {
      if (state.idle_since_ms + idle_key_memory_ms > now_ms && this.idle.size <= idle_keys_max) break;
      this.idle.delete(state.key);
      this.keys.delete(state.key);
      this.used_total_ms = Math.max(0, decay(this.used_total_ms, this.used_total_at_ms, now_ms) - decayed(state, now_ms));
      this.used_total_at_ms = now_ms;
    }
    if (this.keys.size === 0) [this.used_total_ms, this.held_since_total_ms] = [0, 0];
  }

  private hold(state: KeyState, slot: Slot, now_ms: number): void {
    this.held++;
    state.held++;
    state.held_since_sum_ms += now_ms;
    this.held_since_total_ms += now_ms;
    slot.granted_at_ms = now_ms;
  }

  private enqueue(state: KeyState, slot: Slot): void {
    slot.previous = state.last;
    if (state.last) state.last.next = slot;
    else state.first = slot;
    state.last = slot;
    state.waiting++;
    this.queued++;
    if (state.waiting === 1) this.turns.set(state.key, state);
  }

  private dequeue(state: KeyState, slot: Slot): void {
    if (slot.previous) slot.previous.next = slot.next;
    else state.first = slot.next;
    if (slot.next) slot.next.previous = slot.previous;
    else state.last = slot.previous;
    slot.previous = slot.next = undefined;
    state.waiting--;
    this.queued--;
    if (state.waiting === 0) this.turns.delete(state.key);
  }

  /** Free slots go, one at a time, to the waiting key below its cap and due with the least slot-time. */
  private dispatch(now_ms: number): void {
    while (this.held < this.capacity) {
      const state = this.nextTurn(now_ms);
      if (state === undefined) return this.wakeWhenDue(now_ms);
      const slot = state.first as Slot;
      this.dequeue(state, slot);
      // Served: to the end of the ring if it still waits (ties go round-robin).
      if (state.waiting > 0) {
        this.turns.delete(state.key);
        this.turns.set(state.key, state);
      }
      this.hold(state, slot, now_ms);
      slot.grant();
    }
  }

  /**
   * Of the first `turns_compared_max` keys in the ring below their cap whose
   * next request is due, the one with the least slot-time (the first of
   * equals). Notes the earliest time a key passed over as not due will be.
   */
  private nextTurn(now_ms: number): KeyState | undefined {
    let best: KeyState | undefined;
    let best_score = Infinity;
    let compared = 0;
    this.next_due_ms = Infinity;
    for (const state of this.turns.values()) {
      if (state.held >= this.capOf(state, now_ms) || !this.mayTake(state)) continue;
      const due_ms = (state.first as Slot).due_ms;
      if (due_ms > now_ms) {
        this.next_due_ms = Math.min(this.next_due_ms, due_ms);
        continue;
      }
      const state_score = score(state, now_ms);
      if (state_score < best_score) [best, best_score] = [state, state_score];
      if (++compared >= turns_compared_max) break;
    }
    return best;
  }

  /** Slots are free and nobody below their cap is due: wake when the first paced request is (one timer, moved earlier when needed). */
  private wakeWhenDue(now_ms: number): void {
    const due_ms = this.next_due_ms;
    if (due_ms === Infinity || due_ms >= this.wake_at_ms) return;
    if (this.wake !== undefined) this.wakeup.clear(this.wake);
    this.wake_at_ms = due_ms;
    this.wake = this.wakeup.set(Math.max(0, Math.ceil(due_ms - now_ms)), () => {
      this.wake = undefined;
      this.wake_at_ms = Infinity;
      this.dispatch(this.now());
    });
  }
}

/** Slot-time (ms) within which a key counts as equal to the mean. */
const slot_time_margin_ms = 0.001;

/** Pure: slot-time counted at `at_ms`, halved every `slot_time_half_life_ms` since. */
function decay(used_ms: number, at_ms: number, now_ms: number): number {
  if (used_ms === 0) return 0;
  return used_ms * 2 ** (-Math.max(0, now_ms - at_ms) / slot_time_half_life_ms);
}

/** Pure: a key's slot-time of released slots now. */
function decayed(state: KeyState, now_ms: number): number {
  return decay(state.used_ms, state.used_at_ms, now_ms);
}

/** Pure: the slot-time a key is compared by: held before (decayed) and held now. */
function score(state: KeyState, now_ms: number): number {
  return decayed(state, now_ms) + Math.max(0, state.held * now_ms - state.held_since_sum_ms);
}

/** @internal a key's count, waiting list and slot-time */
export interface KeyState {
  key: string;
  /** Holding or waiting. */
  pending: number;
  held: number;
  waiting: number;
  first: Slot | undefined;
  last: Slot | undefined;
  /** Slot-time of released slots (ms), as of `used_at_ms`. */
  used_ms: number;
  used_at_ms: number;
  /** Sum of the grant times of the slots it holds: with `held`, the slot-time they have run so far. */
  held_since_sum_ms: number;
  /** When its last request left (meaningful while it is idle). */
  idle_since_ms: number;
  /** Pacing: the theoretical time of its next request (GCRA), after which the next one may start `burst - 1` intervals early. */
  paced_until_ms: number;
}

/** One request's place: waiting, holding a slot, or released (for good). */
export class Slot {
  state: 'waiting' | 'held' | 'released' = 'waiting';
  /** @internal the key's waiting list */
  previous: Slot | undefined;
  /** @internal */
  next: Slot | undefined;
  /** @internal when it got its slot (ms) */
  granted_at_ms = 0;
  /** @internal pacing: not granted before this time (ms) */
  due_ms = 0;
  private granted: { promise: Promise<boolean>; resolve: (held: boolean) => void } | undefined;

  constructor(
    private readonly queue: FairQueue,
    /** @internal */
    readonly owner: KeyState,
  ) {}

  /**
   * Resolves true once the slot is held (at once if it is), false if it was
   * released while waiting (the client went away): then nothing may run.
   */
  held(): Promise<boolean> {
    if (this.state !== 'waiting') return Promise.resolve(this.state === 'held');
    if (this.granted === undefined) {
      let resolve!: (held: boolean) => void;
      const promise = new Promise<boolean>((done) => (resolve = done));
      this.granted = { promise, resolve };
    }
    return this.granted.promise;
  }

  /** Gives the slot back, or leaves the queue; any number of times, from any path. */
  release(): void {
    const was = this.state;
    if (was === 'released') return;
    this.state = 'released';
    this.queue.leave(this, was);
    this.granted?.resolve(false);
  }

  /** @internal FairQueue.dispatch */
  grant(): void {
    this.state = 'held';
    this.granted?.resolve(true);
  }
}
