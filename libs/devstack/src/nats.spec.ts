import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureNats, findNatsServer } from './nats.js';
import { generateNatsUsers } from './nats-users.js';
import { isReachable } from './ports.js';

const start_timeout_ms = 30_000;

describe('ensureNats', () => {
  let folder: string;
  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'devstack-nats-'));
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('uses NATS_URL when it is set, without starting anything', async () => {
    const nats = await ensureNats({ dataDir: join(folder, 'unused'), env: { NATS_URL: 'nats://127.0.0.1:1' } });
    expect(nats).toMatchObject({ url: 'nats://127.0.0.1:1', started: false });
    expect(existsSync(join(folder, 'unused'))).toBe(false);
  });

  it('finds nats-server outside PATH in the usual system folders', () => {
    expect(findNatsServer({ PATH: '' })).toMatch(/nats-server$/);
  });

  it(
    'starts nats-server with JetStream on a free port, usable for streams, and stops it',
    async () => {
      const dataDir = join(folder, 'store');
      const nats = await ensureNats({ dataDir, env: {}, preferExisting: false, ephemeral: true, unref: true });
      expect(nats.started).toBe(true);
      expect(nats.url).not.toContain(':4222');
      const connection = await connect({ servers: nats.url, timeout: 2_000, reconnect: false });
      try {
        const manager = await jetstreamManager(connection, { timeout: 2_000 });
        const stream = await manager.streams.add({ name: 'devstack_test', subjects: ['devstack_test.>'] });
        expect(stream.config.name).toBe('devstack_test');
        await connection.publish('devstack_test.hello', 'hi');
        await connection.flush();
        expect((await manager.streams.info('devstack_test')).state.messages).toBe(1);
      } finally {
        await connection.close();
      }
      await nats.stop();
      const { port } = new URL(nats.url);
      expect(await isReachable('127.0.0.1', Number(port), 500)).toBe(false);
      expect(existsSync(dataDir)).toBe(false);
    },
    start_timeout_ms,
  );

  it(
    'starts nats-server with users from the table: no anonymous client, each user held to its subjects',
    async () => {
      const users = generateNatsUsers();
      const nats = await ensureNats({ dataDir: join(folder, 'auth'), env: {}, preferExisting: false, ephemeral: true, unref: true, auth: { prefix: 'dv', users } });
      try {
        await expect(connect({ servers: nats.url, timeout: 2_000, reconnect: false })).rejects.toThrow(/authorization violation/i);
        const login = (name: 'accounts' | 'push') => ({ user: users[name].user, pass: users[name].password, inboxPrefix: `_INBOX.dv.${name}` });
        const accounts = await connect({ ...login('accounts'), servers: nats.url, timeout: 2_000, reconnect: false });
        const push = await connect({ ...login('push'), servers: nats.url, timeout: 2_000, reconnect: false });
        try {
          accounts.subscribe('dv.accounts.tokens.verify', { callback: (_error, message) => void message.respond('verified') });
          await accounts.flush();
          expect((await push.request('dv.accounts.tokens.verify', 'at_x', { timeout: 2_000 })).string()).toBe('verified');
          await expect(push.request('dv.accounts.transfers.post', '{}', { timeout: 2_000 })).rejects.toThrow(/permissions violation/i);
        } finally {
          await accounts.close();
          await push.close();
        }
      } finally {
        await nats.stop();
      }
    },
    start_timeout_ms,
  );
});
