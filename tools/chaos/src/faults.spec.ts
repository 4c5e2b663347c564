import { serviceNames } from '@paynet/devstack';
import { describeFault, fault_kinds, pause_ms_max, pause_ms_min, planFaults } from './faults.js';
import { seededRandom } from './random.js';

describe('the nemesis plan', () => {
  it('has every kind of fault in every round of four, so a short run of five sees them all', () => {
    for (let seed = 0; seed < 50; seed++) {
      const plan = planFaults(10, seededRandom(seed));
      expect(plan).toHaveLength(10);
      for (const round of [plan.slice(0, 4), plan.slice(4, 8)]) expect(new Set(round.map((fault) => fault.kind))).toEqual(new Set(fault_kinds));
    }
  });

  it('names a real service and a bounded pause, and is the same for the same seed', () => {
    const plan = planFaults(40, seededRandom(7));
    for (const fault of plan) {
      if (fault.kind === 'kill' || fault.kind === 'pause') expect(serviceNames).toContain(fault.service);
      if (fault.kind === 'pause') {
        expect(fault.pause_ms).toBeGreaterThanOrEqual(pause_ms_min);
        expect(fault.pause_ms).toBeLessThanOrEqual(pause_ms_max);
      }
    }
    expect(planFaults(40, seededRandom(7))).toEqual(plan);
    expect(planFaults(40, seededRandom(8))).not.toEqual(plan);
  });

  it('says what each fault does', () => {
    expect(describeFault({ kind: 'kill', service: 'payments' })).toBe('SIGKILL payments, respawned');
    expect(describeFault({ kind: 'pause', service: 'accounts', pause_ms: 2_500 })).toBe('SIGSTOP accounts for 2.5 s');
    expect(describeFault({ kind: 'postgres' })).toBe('PostgreSQL immediate shutdown, restarted');
  });
});
