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
});
