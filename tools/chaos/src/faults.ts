import { serviceNames, type ServiceName } from '@paynet/devstack';
import { pick, randomInteger, shuffled, type Random } from './random.js';

/**
 * What the nemesis does, one at a time:
 * - `kill`: SIGKILL a service, then start it again (as a process manager would);
 * - `pause`: SIGSTOP a service, SIGCONT after `pause_ms` (a hung process, its connections open);
 * - `nats`: SIGKILL nats-server, then start it again on the same port and JetStream store;
 * - `postgres`: an immediate shutdown of PostgreSQL (SIGQUIT to the postmaster, what
 *   `pg_ctl stop -m immediate` sends: no checkpoint, crash recovery at the next start), then start it again.
 */
export type Fault =
  | { kind: 'kill'; service: ServiceName }
  | { kind: 'pause'; service: ServiceName; pause_ms: number }
  | { kind: 'nats' }
  | { kind: 'postgres' };
export type FaultKind = Fault['kind'];

export const fault_kinds: readonly FaultKind[] = ['kill', 'pause', 'nats', 'postgres'];
/** Long enough for requests in flight to time out at the client (and NATS requests inside the platform). */
export const pause_ms_min = 2_000;
export const pause_ms_max = 6_000;

/**
 * `count` faults: the kinds in shuffled rounds, so every kind comes up in
 * every round of four (a short run of five sees them all), services at random.
 */
export function planFaults(count: number, random: Random): Fault[] {
  const kinds: FaultKind[] = [];
  while (kinds.length < count) kinds.push(...shuffled(random, fault_kinds));
  return kinds.slice(0, count).map((kind) => makeFault(kind, random));
}

function makeFault(kind: FaultKind, random: Random): Fault {
  switch (kind) {
    case 'kill':
      return { kind, service: pick(random, serviceNames) };
    case 'pause':
      return { kind, service: pick(random, serviceNames), pause_ms: randomInteger(random, pause_ms_min, pause_ms_max) };
    case 'nats':
    case 'postgres':
      return { kind };
  }
}

/** "SIGKILL payments", for progress lines and the report. */
export function describeFault(fault: Fault): string {
  switch (fault.kind) {
    case 'kill':
      return `SIGKILL ${fault.service}, respawned`;
    case 'pause':
      return `SIGSTOP ${fault.service} for ${(fault.pause_ms / 1000).toFixed(1)} s`;
    case 'nats':
      return 'SIGKILL nats-server, restarted on its JetStream store';
    case 'postgres':
      return 'PostgreSQL immediate shutdown, restarted';
  }
}
