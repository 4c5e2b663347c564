import { canConnect, hasJetStream, withClient } from '@paynet/devstack';
import { createTestDatabase, testInfra } from './infra.js';

// Starting PostgreSQL here (no server on 5432) takes a few seconds.
const infra_timeout_ms = 90_000;

describe('testInfra', () => {
  it(
    'provides a PostgreSQL that can create databases and a NATS with JetStream, the same ones on every call',
    async () => {
      const infra = await testInfra();
      expect(await testInfra()).toEqual(infra);
      expect(await canConnect(infra.adminDatabaseUrl)).toBe(true);
      expect(await hasJetStream(infra.natsUrl)).toBe(true);
    },
    infra_timeout_ms,
  );

  it(
    'makes an empty database with a unique name, and drop() removes it even with a session open',
    async () => {
      const first = await createTestDatabase();
      const second = await createTestDatabase();
      expect(first.name).not.toBe(second.name);
      expect(first.name).toMatch(/^paynet_test_[a-z0-9]{12}$/);
      const tables = await withClient(first.url, async (client) => {
        const result = await client.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'");
        return (result.rows[0] as { n: number }).n;
      });
      expect(tables).toBe(0);
      await Promise.all([first.drop(), second.drop()]);
      expect(await canConnect(first.url)).toBe(false);
    },
    infra_timeout_ms,
  );
});
