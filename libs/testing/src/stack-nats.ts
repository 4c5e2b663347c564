import type { ConnectionOptions } from '@nats-io/transport-node';
import { ensureNats, findNatsServer, generateNatsUsers, type NatsUserName, type NatsUsers, type ServiceName, serviceNatsEnv } from '@paynet/devstack';
import { join } from 'node:path';
import { testInfra } from './infra.js';
import { deleteNatsStreams } from './nats-cleanup.js';
import { workspaceRoot } from './workspace.js';

/** The NATS of one test stack. */
export interface StackNats {
  url: string;
  /** Users and passwords of the authenticated server started for the stack; undefined on the shared open server. */
  users: NatsUsers | undefined;
  /** How `user` connects (its credentials; nothing on an open server). */
  access(user: NatsUserName): Partial<ConnectionOptions>;
  /** What a service reads to log in as itself (NATS_USER / NATS_PASSWORD), empty on an open server. */
  serviceEnv(name: ServiceName): Record<string, string>;
  /** Stops the server started for the stack, or deletes the stack's streams on the shared one. */
  stop(): Promise<void>;
}

// Set to 1 to run stacks on the shared NATS without users or permissions (as before issue 15).
const open_nats_variable = 'PAYNET_TEST_OPEN_NATS';

/**
 * Every stack runs with NATS permissions on, as deployed: its own nats-server
 * (a free port, throwaway store) configured from the table in devstack
 * (nats-users.ts) for the stack's prefix, with fresh passwords. Without a
 * nats-server binary (or with PAYNET_TEST_OPEN_NATS=1) the stack uses the
 * shared open server of testInfra() instead.
 */
export async function startStackNats(prefix: string): Promise<StackNats> {
  if (process.env[open_nats_variable] === '1' || !findNatsServer()) return sharedOpenNats(prefix);
  const users = generateNatsUsers();
  const server = await ensureNats({
    dataDir: join(workspaceRoot(), 'tmp', 'test-nats', prefix),
    env: { PATH: process.env['PATH'] ?? '' },
    preferExisting: false,
    ephemeral: true,
    unref: true, // the reaper ends it if a test file forgets stop()
    auth: { prefix, users },
  });
  return {
    url: server.url,
    users,
    access: (user) => ({ user: users[user].user, pass: users[user].password }),
    serviceEnv: (name) => serviceNatsEnv(users, name),
    stop: () => server.stop(),
  };
}

async function sharedOpenNats(prefix: string): Promise<StackNats> {
  const { natsUrl } = await testInfra();
  return openStackNats(natsUrl, prefix);
}

/** A stack on an open nats-server at `natsUrl` (no users): the shared test server, or one a chaos run owns. */
export function openStackNats(natsUrl: string, prefix: string): StackNats {
  return {
    url: natsUrl,
    users: undefined,
    access: () => ({}),
    serviceEnv: () => ({}),
    // Best effort: leftovers only cost space.
    stop: async () => void (await deleteNatsStreams(natsUrl, prefix).catch(() => undefined)),
  };
}
