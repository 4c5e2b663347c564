import { DeliveryClock } from './delivery.js';

describe('DeliveryClock', () => {
  it('measures from the pay answer to the moment the listener heard of it', () => {
    const clock = new DeliveryClock();
    clock.answer('pi_1', 100);
    clock.hear('pi_1', 112);
    clock.answer('pi_2', 200);
    clock.hear('pi_2', 204);
    expect(clock.take()).toMatchObject({ count: 2, answered: 2, p50_ms: 4, max_ms: 12, early: 0, missing: 0 });
  });

  it('counts news heard before the answer as early, at 0 ms', () => {
    const clock = new DeliveryClock();
    clock.hear('pi_1', 95);
    clock.answer('pi_1', 100);
    expect(clock.take()).toMatchObject({ count: 1, early: 1, max_ms: 0 });
  });

  it('counts answered payments never heard as missing, and starts empty after take()', () => {
    const clock = new DeliveryClock();
    clock.answer('pi_1', 100);
    clock.answer('pi_2', 100);
    clock.hear('pi_2', 101);
    expect(clock.waiting).toBe(1);
    expect(clock.take()).toMatchObject({ answered: 2, count: 1, missing: 1 });
    expect(clock.take()).toMatchObject({ answered: 0, count: 0, missing: 0 });
  });

  it("measures from each event's commit to the moment it was heard, when commit times are given", () => {
    const clock = new DeliveryClock();
    clock.answer('pi_1', 100);
    clock.hear('pi_1', 112, 1_000_112);
    clock.answer('pi_2', 200);
    clock.hear('pi_2', 230, 1_000_230);
    clock.answer('pi_3', 300);
    clock.hear('pi_3', 310, 1_000_310);
    expect(clock.heardIntents()).toEqual(['pi_1', 'pi_2', 'pi_3']);
    // pi_1 committed 20 ms before it was heard; pi_2's commit is unknown; pi_3's row was changed again after.
    const summary = clock.take(new Map([['pi_1', 1_000_092], ['pi_3', 1_000_400]]));
    expect(summary.from_commit).toMatchObject({ count: 1, max_ms: 20 });
    expect(clock.take().from_commit).toBeUndefined();
    expect(clock.heardIntents()).toEqual([]);
  });
});
