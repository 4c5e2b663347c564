import type { NatsConnection } from '@nats-io/transport-node';
import { ensureNats, generateNatsUsers, serviceNatsEnv } from '@paynet/devstack';
import { connectNats, natsAccessOptions, parseConfig, base_config_schema } from '@paynet/platform';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const start_timeout_ms = 60_000;
const prefix = 'tls';

/** A throwaway CA and a server certificate it signed for 127.0.0.1, made with openssl. */
function generateCertificates(folder: string): { ca: string; cert: string; key: string } {
  const file = (name: string) => join(folder, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '1', '-subj', '/CN=paynet test CA');
  openssl('req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(file('san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl('x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file('server.pem'), '-days', '1', '-extfile', file('san.cnf'));
  return { ca: file('ca.pem'), cert: file('server.pem'), key: file('server.key') };
}

describe('NATS over TLS, configured by NATS_TLS_CA', () => {
  let folder: string;
  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'testing-nats-tls-'));
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it(
    'carries a request from one service to another over TLS with their own users, and refuses a client that does not trust the CA',
    async () => {
      const certificates = generateCertificates(folder);
      const users = generateNatsUsers();
      const nats = await ensureNats({
        dataDir: join(folder, 'store'),
        env: {},
        preferExisting: false,
        ephemeral: true,
        unref: true,
        auth: { prefix, users },
        tls: { cert_file: certificates.cert, key_file: certificates.key, ca_file: certificates.ca },
      });
      const environment = { DATABASE_URL: 'postgres://unused', ADMIN_TOKEN: 'a'.repeat(32), SECRETS_KEY: Buffer.alloc(32).toString('base64') };
      const settingsOf = (service: 'accounts' | 'merchants', tls: Record<string, string>) =>
        parseConfig(base_config_schema, { ...environment, NATS_URL: nats.url, NATS_PREFIX: prefix, ...serviceNatsEnv(users, service), ...tls });
      const opened: NatsConnection[] = [];
      try {
        const untrusting = settingsOf('merchants', {});
        await expect(connectNats(nats.url, 'merchants', natsAccessOptions(untrusting, 'merchants'))).rejects.toThrow(/certificate/i);

        const trusting = { NATS_TLS_CA: certificates.ca };
        const accounts = await connectNats(nats.url, 'accounts', natsAccessOptions(settingsOf('accounts', trusting), 'accounts'));
        const merchants = await connectNats(nats.url, 'merchants', natsAccessOptions(settingsOf('merchants', trusting), 'merchants'));
        opened.push(accounts, merchants);
        expect(accounts.info?.tls_required).toBe(true);
        accounts.subscribe(`${prefix}.accounts.balances.get`, { callback: (_error, message) => void message.respond('{"posted":"0"}') });
        await accounts.flush();
        expect((await merchants.request(`${prefix}.accounts.balances.get`, '{}', { timeout: 5_000 })).string()).toBe('{"posted":"0"}');
      } finally {
        for (const connection of opened) await connection.close();
        await nats.stop();
      }
    },
    start_timeout_ms,
  );

  it('refuses at boot a TLS setting that names no readable file, or a client certificate without its key', () => {
    const base = { DATABASE_URL: 'postgres://x', NATS_URL: 'tls://127.0.0.1:4222', ADMIN_TOKEN: 'a'.repeat(32), SECRETS_KEY: Buffer.alloc(32).toString('base64') };
    expect(() => parseConfig(base_config_schema, { ...base, NATS_TLS_CA: join(folder, 'absent.pem') })).toThrow('config: NATS_TLS_CA must be a readable file');
    expect(() => parseConfig(base_config_schema, { ...base, NATS_TLS_CERT: join(folder, 'absent.pem') })).toThrow('config: NATS_TLS_KEY is required with NATS_TLS_CERT');
    expect(() => parseConfig(base_config_schema, { ...base, NATS_USER: 'push' })).toThrow('config: NATS_PASSWORD is required with NATS_USER');
  });
});
