import { connect, type NatsConnection } from '@nats-io/transport-node';
import { natsNames } from '@paynet/contracts';
import { testInfra, uniqueNatsPrefix, waitFor } from '@paynet/testing';
import { MerchantCache } from './merchant-cache.js';

/** Two merchants replicas' caches on one NATS: what one changes, the other stops answering from memory. */
describe('MerchantCache', () => {
  let connections: NatsConnection[] = [];
  const names = natsNames(uniqueNatsPrefix());

  async function replica(): Promise<MerchantCache<string>> {
    const connection = await connect({ servers: (await testInfra()).natsUrl });
    connections.push(connection);
    const cache = new MerchantCache<string>(connection, names);
    cache.onApplicationBootstrap();
    await connection.flush();
    return cache;
  }

  afterEach(async () => {
    await Promise.all(connections.map((connection) => connection.close()));
    connections = [];
  });

  it('reads a merchant once, then answers from memory', async () => {
    const cache = await replica();
    let reads = 0;
    const load = async () => `row ${++reads}`;
    expect(await cache.get('mer_1', load)).toBe('row 1');
    expect(await cache.get('mer_1', load)).toBe('row 1');
    expect(reads).toBe(1);
  });

  it('does not keep a merchant that does not exist (it may be created next)', async () => {
    const cache = await replica();
    let reads = 0;
    const load = async () => (++reads > 1 ? 'created' : undefined);
    expect(await cache.get('mer_new', load)).toBeUndefined();
    expect(await cache.get('mer_new', load)).toBe('created');
  });

  it('drops a changed merchant on the replica that changed it at once, and on every other replica', async () => {
    const [here, there] = [await replica(), await replica()];
    let row = 'webhook A';
    const load = async () => row;
    await here.get('mer_1', load);
    await there.get('mer_1', load);
    row = 'webhook B';
    here.changed('mer_1');
    expect(await here.get('mer_1', load)).toBe('webhook B');
    await waitFor(async () => (await there.get('mer_1', load)) === 'webhook B', { description: 'the other replica to drop the changed merchant' });
  });

  it('does not keep a read that raced a change (it may hold the old row)', async () => {
    const cache = await replica();
    let release: (value: string) => void = () => undefined;
    const slow = cache.get('mer_1', () => new Promise<string>((resolve) => (release = resolve)));
    cache.changed('mer_1');
    release('old row');
    expect(await slow).toBe('old row');
    expect(await cache.get('mer_1', async () => 'new row')).toBe('new row');
  });
});
