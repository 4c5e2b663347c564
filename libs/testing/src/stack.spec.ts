import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type ConnectionOptions } from '@nats-io/transport-node';
import { canConnect, isReachable, isValidSecretsKey, servicePortVariable, type ServiceName, sleep } from '@paynet/devstack';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonFetch } from './http.js';
import { startStack, type Stack } from './stack.js';

const stack_timeout_ms = 60_000;

/** A stand-in service: ready at once, shows its environment at /env. */
function fakeService(folder: string, name: ServiceName): string {
  const entry = join(folder, `${name}.mjs`);
  writeFileSync(
    entry,
    `import { createServer } from 'node:http';
console.log('${name} starting');
const server = createServer((request, response) => {
  if (request.url === '/health/ready') { response.end('ok'); return; }
  response.setHeader('content-type', 'application/json');
  response.end(JSON.stringify(process.env));
}).listen(Number(process.env.${servicePortVariable(name)}), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`,
  );
  return entry;
}

async function streamNames(natsUrl: string, access: Partial<ConnectionOptions>): Promise<string[]> {
  const connection = await connect({ ...access, servers: natsUrl, timeout: 2_000, reconnect: false });
  try {
    const manager = await jetstreamManager(connection);
    const names: string[] = [];
    for await (const name of manager.streams.names()) names.push(name);
    return names;
  } finally {
    await connection.close();
  }
}

describe('startStack', () => {
  let folder: string;
  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'testing-stack-'));
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it(
    'starts the chosen services with the env contract, restarts, kills, pauses and resumes them, and cleans up on stop',
    async () => {
      const stack: Stack = await startStack({
        services: ['accounts', 'merchants'],
        build: false,
        entries: { accounts: fakeService(folder, 'accounts'), merchants: fakeService(folder, 'merchants') },
        env: { LOG_LEVEL: 'debug' },
        serviceEnv: { merchants: { ONLY_HERE: 'yes' } },
      });
      try {
        expect(new Set(Object.values(stack.urls)).size).toBe(4);
        const { body: env } = await jsonFetch<Record<string, string>>(`${stack.urls.accounts}/env`);
        expect(env).toMatchObject({
          // Each service on its own database role; the owner's URL only to migrate.
          DATABASE_URL: stack.serviceDatabaseUrl('accounts'),
          DATABASE_OWNER_URL: stack.databaseUrl,
          NATS_URL: stack.natsUrl,
          NATS_PREFIX: stack.natsPrefix,
          ADMIN_TOKEN: stack.adminToken,
          WEBHOOK_RETRY_SCALE: '0.001',
          WEBHOOK_ALLOW_PRIVATE: 'true',
          LOG_LEVEL: 'debug',
          ACCOUNTS_PORT: new URL(stack.urls.accounts).port,
          PUSH_PORT: new URL(stack.urls.push).port,
        });
        expect(isValidSecretsKey(env['SECRETS_KEY'] ?? '')).toBe(true);
        // Each service logs in to the stack's NATS as itself.
        expect(env['NATS_USER']).toBe(stack.nats.users?.accounts.user);
        expect(env['NATS_PASSWORD']).toBe(stack.nats.users?.accounts.password);
        expect(new URL(stack.serviceDatabaseUrl('accounts')).username).not.toBe(new URL(stack.databaseUrl).username);
        expect(new URL(stack.serviceDatabaseUrl('accounts')).username).not.toBe(new URL(stack.serviceDatabaseUrl('merchants')).username);
        expect(env['ONLY_HERE']).toBeUndefined();
        expect((await jsonFetch<Record<string, string>>(`${stack.urls.merchants}/env`)).body['ONLY_HERE']).toBe('yes');
        expect(stack.isRunning('payments')).toBe(false);
        expect(await canConnect(stack.databaseUrl)).toBe(true);

        await stack.kill('accounts');
        expect(stack.isRunning('accounts')).toBe(false);
        await stack.restart('accounts');
        expect(stack.isRunning('accounts')).toBe(true);
        expect(stack.logTail('accounts')).toEqual(['accounts starting']);
        expect(readFileSync(join(stack.logDir, 'accounts.log'), 'utf8')).toBe('accounts starting\naccounts starting\n');

        stack.pause('accounts');
        const asked = jsonFetch(`${stack.urls.accounts}/env`);
        expect(await Promise.race([asked.then(() => 'answered'), sleep(300).then(() => 'no answer yet')])).toBe('no answer yet');
        stack.resume('accounts');
        expect((await asked).status).toBe(200);

        const connection = await connect({ ...stack.nats.access('operator'), servers: stack.natsUrl, timeout: 2_000, reconnect: false });
        const manager = await jetstreamManager(connection);
        await manager.streams.add({ name: `${stack.natsPrefix}_events`, subjects: [`${stack.natsPrefix}.events.>`] });
        await connection.close();
      } finally {
        await stack.stop();
      }
      expect(stack.isRunning('accounts')).toBe(false);
      expect(await canConnect(stack.databaseUrl)).toBe(false);
      if (stack.nats.users === undefined) {
        expect(await streamNames(stack.natsUrl, {})).not.toContain(`${stack.natsPrefix}_events`);
      } else {
        // Its own nats-server (and the streams in it) is gone.
        expect(await isReachable('127.0.0.1', Number(new URL(stack.natsUrl).port), 500)).toBe(false);
      }
      expect(existsSync(join(stack.logDir, 'merchants.log'))).toBe(true);
    },
    stack_timeout_ms,
  );

  it(
    'fails with the dead service and the tail of its log when a service cannot start',
    async () => {
      const crashing = join(folder, 'crash.mjs');
      writeFileSync(crashing, "console.error('config: SECRETS_KEY must be 32 bytes'); process.exit(1);");
      await expect(startStack({ services: ['payments'], build: false, entries: { payments: crashing } })).rejects.toThrow(
        /payments exited \(code 1\)[\s\S]*payments\.log:\nconfig: SECRETS_KEY must be 32 bytes/,
      );
    },
    stack_timeout_ms,
  );
});
