import fc from 'fast-check';
import { FairQueue, type Slot } from './fair-queue.js';

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

  it('gives the next free slot to a key with one request waiting before the second of a key that queued many', () => {
    const queue = new FairQueue(1, 100);
    const holder = queue.enter('flood') as Slot;
    const flood = Array.from({ length: 50 }, () => queue.enter('flood') as Slot);
    const steady = queue.enter('steady') as Slot;
    holder.release();
    expect(flood[0]?.state).toBe('held');
    flood[0]?.release();
    expect(steady.state).toBe('held');
    expect(flood.slice(1).every((slot) => slot.state === 'waiting')).toBe(true);
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

  it('keeps a key at its cap of slots waiting while slots are free, so another key finds one at once', () => {
    const queue = new FairQueue(4, 100, 2);
    const flood = Array.from({ length: 6 }, () => queue.enter('flood') as Slot);
    expect(flood.map((slot) => slot.state)).toEqual(['held', 'held', 'waiting', 'waiting', 'waiting', 'waiting']);
    expect([queue.in_flight, queue.waiting]).toEqual([2, 4]);
    const steady = [queue.enter('steady') as Slot, queue.enter('steady') as Slot, queue.enter('steady') as Slot];
    expect(steady.map((slot) => slot.state)).toEqual(['held', 'held', 'waiting']);
    // A slot freed by the flood is the flood's next waiter's (the steady one is at its cap too).
    flood[0]?.release();
    expect([flood[2]?.state, steady[2]?.state]).toEqual(['held', 'waiting']);
    // One freed by the steady key goes to its own waiter, though the flood queued first.
    steady[0]?.release();
    expect([steady[2]?.state, flood[3]?.state]).toEqual(['held', 'waiting']);
  });

  it('serves the keys below their cap in turn, passing over a capped key without losing its place', () => {
    const queue = new FairQueue(3, 100, 2);
    const flood = Array.from({ length: 4 }, () => queue.enter('flood') as Slot);
    const other = queue.enter('other') as Slot;
    const third = [queue.enter('third') as Slot, queue.enter('third') as Slot];
    expect([flood[2]?.state, other.state, third[0]?.state, third[1]?.state]).toEqual(['waiting', 'held', 'waiting', 'waiting']);
    // The flood is first in the ring, but at its cap: the free slot goes to the third key.
    other.release();
    expect([flood[2]?.state, third[0]?.state]).toEqual(['waiting', 'held']);
    // The flood, below its cap again, has its turn before the third key's second request.
    flood[0]?.release();
    expect([flood[2]?.state, third[1]?.state]).toEqual(['held', 'waiting']);
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
    expect([queue.in_flight, queue.waiting, queue.keys_known]).toEqual([1, 0, 1]);
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
    expect([queue.in_flight, queue.waiting, queue.keys_known]).toEqual([0, 0, 0]);
  });

  it('takes only whole positive sizes', () => {
    expect(() => new FairQueue(0, 1)).toThrow(RangeError);
    expect(() => new FairQueue(1, 1.5)).toThrow(RangeError);
    expect(() => new FairQueue(2, 2, 0)).toThrow(RangeError);
  });

  /**
   * Random arrivals and releases (answers, errors, aborts of waiters) against
   * the rules: never more than the capacity held, nor more than a key's cap,
   * no free slot while anyone below their cap waits, no key past its bound,
   * no key served more than once per round while another waits (without
   * caps), and nothing remembered once all is released.
   */
  it('keeps its promises under any interleaving of arrivals and releases', () => {
    const operation = fc.oneof(
      { arbitrary: fc.record({ enter: fc.integer({ min: 0, max: 2 }) }), weight: 4 },
      // A request answered (or failed) frees its slot; a waiting one whose client left leaves the queue.
      { arbitrary: fc.record({ finish: fc.nat() }), weight: 3 },
      { arbitrary: fc.record({ abort: fc.nat() }), weight: 1 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 5 }), fc.array(operation, { maxLength: 200, size: 'max' }), (capacity, per_key_max, held_max, operations) => {
        const queue = new FairQueue(capacity, per_key_max, held_max);
        const capped = held_max < capacity;
        const live: { key: string; slot: Slot }[] = [];
        /** For each waiter: the slots granted to every key since it came. */
        const waits = new Map<Slot, { grants: Map<string, number> }>();
        const pending = (key: string) => live.filter((entry) => entry.key === key).length;
        for (const operation of operations) {
          const before = new Set(live.filter((entry) => entry.slot.state === 'waiting').map((entry) => entry.slot));
          if ('enter' in operation) {
            const key = `k${operation.enter}`;
            const was = pending(key);
            expect(queue.full(key)).toBe(was >= per_key_max);
            const slot = queue.enter(key);
            expect(slot === undefined).toBe(was >= per_key_max);
            if (slot === undefined) continue;
            if (slot.state === 'waiting') waits.set(slot, { grants: new Map() });
            live.push({ key, slot });
          } else {
            const [index, state] = 'finish' in operation ? [operation.finish, 'held'] : [operation.abort, 'waiting'];
            const candidates = live.filter((entry) => entry.slot.state === state);
            const entry = candidates[index % Math.max(1, candidates.length)];
            if (entry === undefined) continue;
            live.splice(live.indexOf(entry), 1);
            entry.slot.release();
            waits.delete(entry.slot);
          }
          // At most one slot is freed per operation, so at most one waiter is served.
          const served = live.filter((entry) => before.has(entry.slot) && entry.slot.state === 'held');
          expect(served.length).toBeLessThanOrEqual(1);
          for (const { key, slot } of served) {
            waits.delete(slot);
            for (const other of waits.values()) other.grants.set(key, (other.grants.get(key) ?? 0) + 1);
          }
          // A waiter is passed by at most one request of each other key per round: its own key's earlier waiters each took a round.
          // (With caps a capped key is passed over as often as it stays capped.)
          for (const [slot, wait] of capped ? [] : waits) {
            const own = live.find((entry) => entry.slot === slot)?.key ?? '';
            const rounds = wait.grants.get(own) ?? 0;
            for (const [other, count] of wait.grants) if (other !== own) expect(count).toBeLessThanOrEqual(rounds + 1);
          }
          const held = live.filter((entry) => entry.slot.state === 'held').length;
          const waiting = live.length - held;
          expect(queue.in_flight).toBe(held);
          expect(queue.waiting).toBe(waiting);
          expect(held).toBeLessThanOrEqual(capacity);
          const held_by = (key: string) => live.filter((entry) => entry.key === key && entry.slot.state === 'held').length;
          const keys = new Set(live.map((entry) => entry.key));
          for (const key of keys) expect(held_by(key)).toBeLessThanOrEqual(held_max);
          const eligible_waiting = live.some((entry) => entry.slot.state === 'waiting' && held_by(entry.key) < held_max);
          if (eligible_waiting) expect(held).toBe(capacity);
          if (!capped && waiting > 0) expect(held).toBe(capacity);
          expect(queue.keys_known).toBe(keys.size);
        }
        for (const entry of live) entry.slot.release();
        expect([queue.in_flight, queue.waiting, queue.keys_known]).toEqual([0, 0, 0]);
      }),
      { numRuns: 150 },
    );
  });
});
