import fc from 'fast-check';
import { FairQueue, idle_key_memory_ms, idle_keys_max, type Slot, type Wakeup } from './fair-queue.js';

/** A clock the test moves. */
function clock(): { now: () => number; advance: (ms: number) => void } {
  let now_ms = 0;
  return { now: () => now_ms, advance: (ms) => (now_ms += ms) };
}

describe('fair admission (FairQueue)', () => {
  it('holds a slot at once while one is free, and queues past the capacity', async () => {
    const queue = new FairQueue(2, 10);
    const [a, b, c] = [queue.enter('a'), queue.enter('a'), queue.enter('a')];
    expect([a?.state, b?.state, c?.state]).toEqual(['held', 'held', 'waiting']);
    expect([queue.in_flight, queue.waiting]).toEqual([2, 1]);
    const granted = c?.held();
    a?.release();
    await expect(granted).resolves.toBe(true);
    expect([queue.in_flight, queue.waiting]).toEqual([2, 0]);
  });

  it('gives the next free slot to a key with one request waiting before a flood that has held the slot', () => {
    const time = clock();
    const queue = new FairQueue(1, 100, 1, { now: time.now });
    const holder = queue.enter('flood') as Slot;
    const flood = Array.from({ length: 50 }, () => queue.enter('flood') as Slot);
    time.advance(10);
    const steady = queue.enter('steady') as Slot;
    holder.release();
    expect(steady.state).toBe('held');
    expect(flood.every((slot) => slot.state === 'waiting')).toBe(true);
    time.advance(10);
    steady.release();
    expect(flood[0]?.state).toBe('held');
  });

  it('gives turns by slot-time, not by request: a key whose requests hold slots long waits for the quick ones', () => {
    const time = clock();
    const queue = new FairQueue(1, 100, 1, { now: time.now });
    const first = queue.enter('slow') as Slot;
    const slow = [queue.enter('slow') as Slot, queue.enter('slow') as Slot];
    const quick = [queue.enter('quick') as Slot, queue.enter('quick') as Slot, queue.enter('quick') as Slot];
    // The slow key held the slot 30 ms: the quick key's three 5 ms requests go first.
    time.advance(30);
    first.release();
    for (const slot of quick) {
      expect(slot.state).toBe('held');
      time.advance(5);
      slot.release();
    }
    expect(slow[0]?.state).toBe('held');
  });

  it('refuses a key that already has its bound holding and waiting, and no other key', () => {
    const queue = new FairQueue(1, 3);
    const flood = [queue.enter('flood'), queue.enter('flood'), queue.enter('flood')];
    expect(flood.every((slot) => slot !== undefined)).toBe(true);
    expect(queue.enter('flood')).toBeUndefined();
    expect(queue.enter('steady')?.state).toBe('waiting');
    flood[1]?.release();
    expect(queue.enter('flood')?.state).toBe('waiting');
  });

  it('lets a key alone hold every slot, and caps the key above the mean slot-time once another is active, never the one below', () => {
    const time = clock();
    const queue = new FairQueue(4, 100, 1, { now: time.now });
    const flood = Array.from({ length: 6 }, () => queue.enter('flood') as Slot);
    expect(flood.map((slot) => slot.state)).toEqual(['held', 'held', 'held', 'held', 'waiting', 'waiting']);
    expect(queue.cap('flood')).toBe(4);
    // Another key arrives: all slots are held, it waits, and goes first; the flood, above the mean, is capped to 1.
    time.advance(10);
    const steady = queue.enter('steady') as Slot;
    expect([queue.cap('flood'), queue.cap('steady')]).toEqual([1, 4]);
    flood[0]?.release();
    expect([steady.state, flood[4]?.state]).toEqual(['held', 'waiting']);
    // The flood holds 3, over its cap: a slot it frees stays free ...
    time.advance(10);
    flood[1]?.release();
    expect([queue.in_flight, flood[4]?.state]).toEqual([3, 'waiting']);
    // ... for the steady key, below the mean: it may hold more than the flood's cap.
    const second = queue.enter('steady') as Slot;
    expect([second.state, queue.in_flight]).toEqual(['held', 4]);
    expect([steady.state, second.state].filter((state) => state === 'held')).toHaveLength(2);
  });

  it('keeps a heavy key capped while another was active within the idle memory, and lifts the cap after', () => {
    const time = clock();
    const queue = new FairQueue(4, 100, 1, { now: time.now });
    const steady = queue.enter('steady') as Slot;
    const flood = Array.from({ length: 6 }, () => queue.enter('flood') as Slot);
    expect(flood.map((slot) => slot.state)).toEqual(['held', 'held', 'held', 'waiting', 'waiting', 'waiting']);
    time.advance(10);
    steady.release();
    flood[0]?.release();
    // The steady key is idle but remembered, the flood far above the mean: it stays at 2 held, over its cap of 1.
    expect(flood.map((slot) => slot.state)).toEqual(['released', 'held', 'held', 'waiting', 'waiting', 'waiting']);
    time.advance(idle_key_memory_ms - 1);
    flood[1]?.release();
    expect(flood.map((slot) => slot.state)).toEqual(['released', 'released', 'held', 'waiting', 'waiting', 'waiting']);
    time.advance(1);
    // The steady key is forgotten at the next event: the flood is alone and takes every free slot.
    flood[2]?.release();
    expect(flood.map((slot) => slot.state)).toEqual(['released', 'released', 'released', 'held', 'held', 'held']);
    expect([queue.keys_known, queue.keys_pending]).toEqual([1, 1]);
  });

  it('serves the keys below their cap, passing over a capped key without losing its place', () => {
    const time = clock();
    const queue = new FairQueue(3, 100, 1, { now: time.now });
    const flood = Array.from({ length: 4 }, () => queue.enter('flood') as Slot);
    time.advance(10);
    const third = [queue.enter('third') as Slot, queue.enter('third') as Slot];
    expect([...flood.map((slot) => slot.state), ...third.map((slot) => slot.state)]).toEqual(['held', 'held', 'held', 'waiting', 'waiting', 'waiting']);
    // The flood waits first, but above the mean and at its cap: the free slot goes to the third key.
    flood[0]?.release();
    expect([flood[3]?.state, third[0]?.state]).toEqual(['waiting', 'held']);
    flood[1]?.release();
    expect([flood[3]?.state, third[1]?.state]).toEqual(['waiting', 'held']);
    // Back below its cap (it holds none), the flood has its turn.
    time.advance(10);
    flood[2]?.release();
    expect(flood[3]?.state).toBe('held');
  });

  it('lets a waiter that gives up leave without taking a slot, and its wait answers false', async () => {
    const queue = new FairQueue(1, 10);
    const holder = queue.enter('a') as Slot;
    const gone = queue.enter('b') as Slot;
    const next = queue.enter('c') as Slot;
    const waited = gone.held();
    gone.release();
    await expect(waited).resolves.toBe(false);
    holder.release();
    expect(next.state).toBe('held');
    expect([queue.in_flight, queue.waiting, queue.keys_pending]).toEqual([1, 0, 1]);
  });

  it('counts a release once, however many paths call it (answer, error, close)', () => {
    const queue = new FairQueue(1, 10);
    const first = queue.enter('a') as Slot;
    const second = queue.enter('a') as Slot;
    first.release();
    first.release();
    expect(second.state).toBe('held');
    expect(queue.in_flight).toBe(1);
    second.release();
    second.release();
    expect([queue.in_flight, queue.waiting, queue.keys_pending]).toEqual([0, 0, 0]);
  });

  it('takes only whole positive sizes', () => {
    expect(() => new FairQueue(0, 1)).toThrow(RangeError);
    expect(() => new FairQueue(1, 1.5)).toThrow(RangeError);
    expect(() => new FairQueue(2, 2, 0)).toThrow(RangeError);
  });

  it('remembers at most idle_keys_max idle keys, however many come and go, and forgets them all once idle long enough', () => {
    const time = clock();
    const queue = new FairQueue(2, 4, 1, { now: time.now });
    const keys = idle_keys_max + 5_000;
    for (let index = 0; index < keys; index++) {
      const slot = queue.enter(`address:${index}`) as Slot;
      time.advance(0.01);
      slot.release();
      expect(queue.keys_known).toBeLessThanOrEqual(idle_keys_max + 1);
    }
    expect(queue.keys_known).toBe(idle_keys_max);
    time.advance(idle_key_memory_ms);
    const last = queue.enter('last') as Slot;
    expect([queue.keys_known, last.state]).toEqual([1, 'held']);
    last.release();
    expect([queue.in_flight, queue.waiting, queue.keys_pending]).toEqual([0, 0, 0]);
  });

  /**
   * Random arrivals, releases (answers, errors, aborts of waiters) and
   * pauses against the rules: never more than the capacity held; a slot
   * taken only by a key below its cap; the cap all slots for a key alone or
   * below the active keys' mean slot-time, `per_key_held_max` above it; no
   * free slot while a key below its cap waits; a key alone never waits while
   * a slot is free; no key past its bound; and nothing pending once all is
   * released.
   */
  it('keeps its promises under any interleaving of arrivals, releases and pauses', () => {
    const operation = fc.oneof(
      { arbitrary: fc.record({ enter: fc.integer({ min: 0, max: 2 }) }), weight: 4 },
      // A request answered (or failed) frees its slot; a waiting one whose client left leaves the queue.
      { arbitrary: fc.record({ finish: fc.nat() }), weight: 3 },
      { arbitrary: fc.record({ abort: fc.nat() }), weight: 1 },
      { arbitrary: fc.record({ wait_ms: fc.integer({ min: 0, max: 1_500 }) }), weight: 1 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 5 }), fc.nat(3), fc.array(operation, { maxLength: 200, size: 'max' }), (capacity, per_key_max, held_max, reserve, operations) => {
        const time = clock();
        const reserved = reserve % capacity;
        const queue = new FairQueue(capacity, per_key_max, held_max, { now: time.now, reserved });
        const live: { key: string; slot: Slot }[] = [];
        /** When each key last had nothing pending. */
        const idle_since = new Map<string, number>();
        const pending = (key: string) => live.filter((entry) => entry.key === key).length;
        const held_by = (key: string) => live.filter((entry) => entry.key === key && entry.slot.state === 'held').length;
        const active = () => new Set([...live.map((entry) => entry.key), ...[...idle_since].filter(([, since]) => since + idle_key_memory_ms > time.now()).map(([key]) => key)]);
        for (const operation of operations) {
          if ('wait_ms' in operation) {
            time.advance(operation.wait_ms);
            continue;
          }
          const held_before = new Map(live.map((entry) => [entry.slot, entry.slot.state]));
          const caps_before = new Map(['k0', 'k1', 'k2'].map((key) => [key, queue.cap(key)]));
          let entered: { key: string; slot: Slot } | undefined;
          if ('enter' in operation) {
            const key = `k${operation.enter}`;
            const was = pending(key);
            expect(queue.full(key)).toBe(was >= per_key_max);
            const slot = queue.enter(key);
            expect(slot === undefined).toBe(was >= per_key_max);
            if (slot === undefined) continue;
            entered = { key, slot };
            live.push(entered);
            idle_since.delete(key);
          } else {
            const [index, state] = 'finish' in operation ? [operation.finish, 'held'] : [operation.abort, 'waiting'];
            const candidates = live.filter((entry) => entry.slot.state === state);
            const entry = candidates[index % Math.max(1, candidates.length)];
            if (entry === undefined) continue;
            live.splice(live.indexOf(entry), 1);
            entry.slot.release();
            if (pending(entry.key) === 0) idle_since.set(entry.key, time.now());
          }
          // A key that already held a slot took another only with more than the reserve free, or while alone.
          if (entered !== undefined && entered.slot.state === 'held' && held_by(entered.key) > 1 && active().size > 1) {
            expect(capacity - (held_before.size === 0 ? 0 : [...held_before.values()].filter((state) => state === 'held').length)).toBeGreaterThan(reserved);
          }
          // Every slot taken in this operation went to a key below its cap.
          const newly_held = live.filter((entry) => entry.slot.state === 'held' && held_before.get(entry.slot) !== 'held');
          for (const { key } of newly_held) expect(held_by(key)).toBeLessThanOrEqual(Math.max(caps_before.get(key) ?? capacity, queue.cap(key)));
          // The cap: all slots for a key alone or at most the active keys' mean slot-time, per_key_held_max above it.
          const keys = [...active()];
          const mean_ms = keys.reduce((sum, key) => sum + queue.slotTime(key), 0) / Math.max(1, keys.length);
          for (const key of keys) {
            if (keys.length === 1 || queue.slotTime(key) < mean_ms - 1e-6) expect(queue.cap(key)).toBe(capacity);
            else if (queue.slotTime(key) > mean_ms + 1e-6) expect(queue.cap(key)).toBe(Math.min(held_max, capacity));
          }
          const held = live.filter((entry) => entry.slot.state === 'held').length;
          const waiting = live.length - held;
          expect(queue.in_flight).toBe(held);
          expect(queue.waiting).toBe(waiting);
          expect(held).toBeLessThanOrEqual(capacity);
          for (const key of new Set(live.map((entry) => entry.key))) expect(held_by(key)).toBeLessThanOrEqual(capacity);
          // Eligible: below its cap, and holding none, or alone, or with more than the reserve free.
          const eligible_waiting = live.some(
            (entry) =>
              entry.slot.state === 'waiting' &&
              held_by(entry.key) < queue.cap(entry.key) &&
              (held_by(entry.key) === 0 || queue.keys_known <= 1 || capacity - held > reserved),
          );
          if (eligible_waiting) expect(held).toBe(capacity);
          // A key alone with nothing waiting is never capped below all the slots.
          if (entered !== undefined && active().size === 1 && held - (entered.slot.state === 'held' ? 1 : 0) < capacity && pending(entered.key) === 1) {
            expect(entered.slot.state).toBe('held');
          }
          expect(queue.keys_pending).toBe(new Set(live.map((entry) => entry.key)).size);
        }
        for (const entry of live) entry.slot.release();
        expect([queue.in_flight, queue.waiting, queue.keys_pending]).toEqual([0, 0, 0]);
      }),
      { numRuns: 150 },
    );
  });
});

/**
 * Keys that always have requests waiting, each request holding its slot a
 * fixed time per key, on a simulated clock: which key gets each slot, and
 * for how long.
 */
function simulate(settings: { capacity: number; held_max: number; hold_ms: readonly number[]; duration_ms: number; backlog: number }) {
  const time = clock();
  const queue = new FairQueue(settings.capacity, settings.backlog + settings.capacity, settings.held_max, { now: time.now });
  const running: { key: number; slot: Slot; ends_ms: number }[] = [];
  const waiting: { key: number; slot: Slot }[] = [];
  const slot_ms = settings.hold_ms.map(() => 0);
  const grants: number[][] = settings.hold_ms.map(() => []);
  const start = (key: number, slot: Slot) => {
    grants[key]?.push(time.now());
    running.push({ key, slot, ends_ms: time.now() + (settings.hold_ms[key] ?? 1) });
  };
  const enter = (key: number) => {
    const slot = queue.enter(`k${key}`) as Slot;
    if (slot.state === 'held') start(key, slot);
    else waiting.push({ key, slot });
  };
  const collect = () => {
    for (let index = waiting.length - 1; index >= 0; index--) {
      const entry = waiting[index] as (typeof waiting)[number];
      if (entry.slot.state !== 'held') continue;
      waiting.splice(index, 1);
      start(entry.key, entry.slot);
    }
  };
  for (let round = 0; round < settings.backlog; round++) for (let key = 0; key < settings.hold_ms.length; key++) enter(key);
  collect();
  while (running.length > 0) {
    running.sort((a, b) => a.ends_ms - b.ends_ms);
    const done = running.shift() as (typeof running)[number];
    if (done.ends_ms > settings.duration_ms) break;
    time.advance(done.ends_ms - time.now());
    slot_ms[done.key] = (slot_ms[done.key] ?? 0) + (settings.hold_ms[done.key] ?? 0);
    done.slot.release();
    collect();
    enter(done.key);
    collect();
  }
  return { slot_ms, grants };
}

describe('fair admission over slot-time (simulated)', () => {
  const hold_ms = fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 2, maxLength: 5 });

  it('gives keys that always wait equal shares of the slot-time, however long their requests hold a slot', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), hold_ms, (capacity, holds) => {
        const duration_ms = 30_000;
        const { slot_ms } = simulate({ capacity, held_max: capacity, hold_ms: holds, duration_ms, backlog: capacity + 1 });
        const total = slot_ms.reduce((sum, ms) => sum + ms, 0);
        for (const ms of slot_ms) expect(Math.abs(ms / total - 1 / holds.length)).toBeLessThan(0.05);
      }),
      { numRuns: 40 },
    );
  });

  it('starves no key: each waiting key is served within a bounded time, however quick the others are', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), hold_ms, (capacity, held_max, holds) => {
        const { grants } = simulate({ capacity, held_max: Math.min(held_max, capacity), hold_ms: holds, duration_ms: 5_000, backlog: capacity + 1 });
        const longest_ms = Math.max(...holds);
        // Its share of the slot-time comes back within a few of the others' longest requests each.
        const bound_ms = 4 * holds.length * longest_ms;
        for (const times of grants) {
          expect(times.length).toBeGreaterThan(0);
          for (let index = 1; index < times.length; index++) expect((times[index] ?? 0) - (times[index - 1] ?? 0)).toBeLessThanOrEqual(bound_ms);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('gives a key alone every slot, and two equal keys equal shares of them', () => {
    const alone = simulate({ capacity: 8, held_max: 4, hold_ms: [10], duration_ms: 1_000, backlog: 16 });
    expect(alone.slot_ms[0]).toBeGreaterThan(7_000);
    const together = simulate({ capacity: 8, held_max: 4, hold_ms: [10, 10], duration_ms: 1_000, backlog: 16 });
    expect(together.slot_ms).toEqual([together.slot_ms[1], together.slot_ms[0]]);
    expect((together.slot_ms[0] ?? 0) + (together.slot_ms[1] ?? 0)).toBeGreaterThan(7_000);
  });
});

/** A clock the test moves, with the timers FairQueue sets on it: they fire, in order, as it passes them. */
function timedClock(): { now: () => number; wakeup: Wakeup; advanceTo: (ms: number) => void; timers: () => number } {
  let now_ms = 0;
  let next_id = 0;
  const timers = new Map<number, { at_ms: number; wake: () => void }>();
  return {
    now: () => now_ms,
    wakeup: {
      set: (delay_ms, wake) => {
        timers.set(++next_id, { at_ms: now_ms + delay_ms, wake });
        return next_id;
      },
      clear: (handle) => void timers.delete(handle as number),
    },
    advanceTo: (ms) => {
      for (;;) {
        const [id, timer] = [...timers].sort(([, a], [, b]) => a.at_ms - b.at_ms)[0] ?? [];
        if (id === undefined || timer === undefined || timer.at_ms > ms) break;
        timers.delete(id);
        now_ms = Math.max(now_ms, timer.at_ms);
        timer.wake();
      }
      now_ms = Math.max(now_ms, ms);
    },
    timers: () => timers.size,
  };
}

describe('reserved slots (FairQueue)', () => {
  it('keeps the last slots for keys that hold none while others are active, and lets a key alone take them', () => {
    const time = clock();
    const queue = new FairQueue(4, 100, 4, { now: time.now, reserved: 2 });
    const steady = queue.enter('steady') as Slot;
    steady.release();
    // Two new keys of one flood (its address, then its principal): neither above the mean, both capped only by the reserve.
    const address = [queue.enter('address:flood') as Slot, queue.enter('address:flood') as Slot];
    const principal = [queue.enter('principal:flood') as Slot, queue.enter('principal:flood') as Slot];
    expect(address.map((slot) => slot.state)).toEqual(['held', 'held']);
    expect(principal.map((slot) => slot.state)).toEqual(['held', 'waiting']);
    expect(queue.enter('steady')?.state).toBe('held');
    expect(() => new FairQueue(2, 2, 2, { now: time.now, reserved: 2 })).toThrow(RangeError);
  });

  it('reserves nothing for a key alone', () => {
    const queue = new FairQueue(4, 100, 4, { reserved: 2 });
    expect(Array.from({ length: 4 }, () => queue.enter('alone')?.state)).toEqual(['held', 'held', 'held', 'held']);
  });
});

describe('pacing (FairQueue)', () => {
  const paced = (interval_ms: number, burst: number) => () => ({ interval_ms, burst });

  it("starts a key's burst at once, then one request per interval, the rest waiting while slots are free", () => {
    const time = timedClock();
    const queue = new FairQueue(100, 100, 100, { now: time.now, pace: paced(10, 3), wakeup: time.wakeup });
    const slots = Array.from({ length: 6 }, () => queue.enter('flood') as Slot);
    expect(slots.map((slot) => slot.state)).toEqual(['held', 'held', 'held', 'waiting', 'waiting', 'waiting']);
    expect(queue.waiting).toBe(3);
    time.advanceTo(9);
    expect(slots[3]?.state).toBe('waiting');
    time.advanceTo(10);
    expect(slots.map((slot) => slot.state)).toEqual(['held', 'held', 'held', 'held', 'waiting', 'waiting']);
    time.advanceTo(30);
    expect(slots.every((slot) => slot.state === 'held')).toBe(true);
    expect(time.timers()).toBe(0);
  });

  it('never holds back a key that keeps to its rate, nor another key while one is paced', () => {
    const time = timedClock();
    const queue = new FairQueue(100, 100, 100, { now: time.now, pace: paced(10, 1), wakeup: time.wakeup });
    for (let at_ms = 0; at_ms < 200; at_ms += 10) {
      time.advanceTo(at_ms);
      const steady = queue.enter('steady') as Slot;
      expect(steady.state).toBe('held');
      steady.release();
    }
    time.advanceTo(200);
    const flood = Array.from({ length: 20 }, () => queue.enter('flood') as Slot);
    expect(flood.filter((slot) => slot.state === 'held')).toHaveLength(1);
    expect(queue.enter('steady')?.state).toBe('held');
  });

  it('lets a paced waiter whose client went away leave, and the next one take its turn', async () => {
    const time = timedClock();
    const queue = new FairQueue(100, 100, 100, { now: time.now, pace: paced(10, 1), wakeup: time.wakeup });
    const [first, second, third] = [queue.enter('k') as Slot, queue.enter('k') as Slot, queue.enter('k') as Slot];
    const gone = second.held();
    second.release();
    await expect(gone).resolves.toBe(false);
    time.advanceTo(20);
    expect([first.state, second.state, third.state]).toEqual(['held', 'released', 'held']);
    expect([queue.in_flight, queue.waiting]).toEqual([2, 0]);
  });

  /**
   * With slots to spare, each request starts exactly when the GCRA allows
   * (its arrival, or `burst - 1` intervals before the key's theoretical time),
   * and so no span of time sees more starts of a key than `burst` plus one
   * per interval it lasts.
   */
  it('starts every request when its schedule allows and never more than burst + span / interval in any span', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.record({ gap_ms: fc.integer({ min: 0, max: 60 }) }), { minLength: 1, maxLength: 80 }),
        (interval_ms, burst, arrivals) => {
          const time = timedClock();
          const queue = new FairQueue(1_000, 1_000, 1_000, { now: time.now, pace: paced(interval_ms, burst), wakeup: time.wakeup });
          const started: (number | undefined)[] = [];
          const expected: number[] = [];
          const slots: Slot[] = [];
          let theoretical_ms = 0;
          let at_ms = 0;
          const note = () => slots.forEach((slot, index) => (started[index] ??= slot.state !== 'waiting' ? time.now() : undefined));
          // The clock moves a millisecond at a time (every time here is whole), noting each start when it happens.
          const until = (end_ms: number) => {
            for (let step_ms = time.now() + 1; step_ms <= end_ms; step_ms++) {
              time.advanceTo(step_ms);
              note();
            }
          };
          for (const { gap_ms } of arrivals) {
            at_ms += gap_ms;
            until(at_ms);
            const due_ms = Math.max(at_ms, Math.max(theoretical_ms, at_ms) - (burst - 1) * interval_ms);
            theoretical_ms = Math.max(theoretical_ms, at_ms) + interval_ms;
            expected.push(due_ms);
            slots.push(queue.enter('k') as Slot);
            note();
          }
          until(at_ms + (arrivals.length + 1) * interval_ms);
          expect(started).toEqual(expected);
          const starts = (started as number[]).slice().sort((a, b) => a - b);
          for (let from = 0; from < starts.length; from++) {
            for (let to = from; to < starts.length; to++) {
              expect(to - from + 1).toBeLessThanOrEqual(burst + Math.floor(((starts[to] as number) - (starts[from] as number)) / interval_ms));
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
