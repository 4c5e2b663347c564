/**
 * Fair admission (docs/SECURITY.md, "Rate limits"): at most `capacity`
 * requests hold a slot at once, and at most `per_key_held_max` of one key (a
 * principal, or a client address): a key at that cap waits even while slots
 * are free, so they stay free for the others, who then find one at once. A
 * key has at most `per_key_max` requests holding or waiting. Waiting
 * requests get free slots round-robin across the keys below their cap, one
 * per key per round, so a key with one request waiting is served after at
 * most one request of each other waiting key, however many those keys queued.
 *
 * O(1) per request, but for passing over capped keys (at most
 * capacity / per_key_held_max of them): keys with waiters form a ring (a Map
 * in insertion order: the first is next; served, it moves to the end), and
 * each key's waiters a doubly linked list (a cancelled waiter leaves in O(1)).
 * A key is forgotten when nothing of it holds or waits, so memory is bounded
 * by the requests in the server.
 */
export class FairQueue {
  private held = 0;
  private queued = 0;
  private readonly keys = new Map<string, KeyState>();
  /** The keys with waiters, in the order they get their next slot. */
  private readonly turns = new Map<string, KeyState>();

  constructor(
    readonly capacity: number,
    readonly per_key_max: number,
    readonly per_key_held_max: number = capacity,
  ) {
    if (!(Number.isInteger(capacity) && capacity >= 1)) throw new RangeError('capacity must be an integer >= 1');
    if (!(Number.isInteger(per_key_max) && per_key_max >= 1)) throw new RangeError('per_key_max must be an integer >= 1');
    if (!(Number.isInteger(per_key_held_max) && per_key_held_max >= 1)) throw new RangeError('per_key_held_max must be an integer >= 1');
  }

  /** Slots held now. */
  get in_flight(): number {
    return this.held;
  }

  /** Requests waiting for a slot now. */
  get waiting(): number {
    return this.queued;
  }

  /** Keys with a request holding or waiting (what the queue remembers). */
  get keys_known(): number {
    return this.keys.size;
  }

  /** Would `key` be refused now (it has `per_key_max` holding or waiting)? Changes nothing. */
  full(key: string): boolean {
    return (this.keys.get(key)?.pending ?? 0) >= this.per_key_max;
  }

  /**
   * A slot for `key`: held at once when one is free and the key holds fewer
   * than its cap, otherwise queued. Undefined when the key already has `per_key_max`
   * holding or waiting: refuse the request.
   */
  enter(key: string): Slot | undefined {
    let state = this.keys.get(key);
    if (state === undefined) {
      state = { key, pending: 0, held: 0, waiting: 0, first: undefined, last: undefined };
      this.keys.set(key, state);
    } else if (state.pending >= this.per_key_max) {
      return undefined;
    }
    state.pending++;
    const slot = new Slot(this, state);
    // A free slot means nobody below their cap waits (dispatch fills it at once otherwise).
    if (this.held < this.capacity && state.held < this.per_key_held_max) {
      this.held++;
      state.held++;
      slot.state = 'held';
    } else {
      this.enqueue(state, slot);
    }
    return slot;
  }

  /** @internal Slot.release: gives back a held slot, or leaves the queue. */
  leave(slot: Slot, was: 'held' | 'waiting'): void {
    const state = slot.owner;
    state.pending--;
    if (was === 'held') {
      this.held--;
      state.held--;
    } else {
      this.dequeue(state, slot);
    }
    if (state.pending === 0) this.keys.delete(state.key);
    this.dispatch();
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

  /** Free slots go to the waiting keys below their cap in turn, one each. */
  private dispatch(): void {
    while (this.held < this.capacity) {
      const state = this.nextTurn();
      if (state === undefined) return;
      const slot = state.first as Slot;
      this.dequeue(state, slot);
      // Served: to the end of the ring if it still waits.
      if (state.waiting > 0) {
        this.turns.delete(state.key);
        this.turns.set(state.key, state);
      }
      this.held++;
      state.held++;
      slot.grant();
    }
  }

  /** The first key in the ring below its cap; a capped key keeps its place. */
  private nextTurn(): KeyState | undefined {
    for (const state of this.turns.values()) if (state.held < this.per_key_held_max) return state;
    return undefined;
  }
}

/** @internal a key's count and waiting list */
export interface KeyState {
  key: string;
  /** Holding or waiting. */
  pending: number;
  held: number;
  waiting: number;
  first: Slot | undefined;
  last: Slot | undefined;
}

/** One request's place: waiting, holding a slot, or released (for good). */
export class Slot {
  state: 'waiting' | 'held' | 'released' = 'waiting';
  /** @internal the key's waiting list */
  previous: Slot | undefined;
  /** @internal */
  next: Slot | undefined;
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
