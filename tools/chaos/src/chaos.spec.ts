import { short_run_faults } from './options.js';
import { runChaos } from './run.js';

// The whole platform booting, five faults healed (a service restart takes tens of seconds on a loaded 2-core VM), then settled.
const chaos_test_timeout_ms = 900_000;

describe('npm run chaos (a short run)', () => {
  it(
    'loses, doubles and strands no payment while services, nats-server and PostgreSQL crash and restart',
    async () => {
      const result = await runChaos({ faults: short_run_faults, interval_s: 2, clients: 6, seed: Date.now() % 1_000_000, write_report: false, help: false }, (line) => process.stdout.write(`${line}\n`), {
        build: true,
      });
      expect(result.anomalies).toEqual([]);
      expect(result.faults.length).toBeGreaterThanOrEqual(5);
      expect(new Set(result.faults.map((record) => record.fault.kind)).size).toBe(4);
      expect(result.history.orders.some((order) => order.pays.some((attempt) => attempt.sends > 1))).toBe(true);
    },
    chaos_test_timeout_ms,
  );
});
