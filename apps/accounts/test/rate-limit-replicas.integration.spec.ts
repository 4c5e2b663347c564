import { jest } from '@jest/globals';
import { RateLimits, ReplicaCensus } from '@paynet/platform';
import { type FetchResult, type InProcessStack, jsonFetch, sleep, startInProcess, waitFor } from '@paynet/testing';
import { AppModule } from '../src/app.module.js';
import { accounts_config_schema } from '../src/config.js';
import { fundedWallet } from './support.js';

/**
 * A budget holds across replicas: two accounts replicas behind one holder's
 * token admit, together, no more than RATE_LIMIT_PER_SECOND in each second
 * (each its share, budget / replicas, learnt over NATS). The bound grows with
 * the seconds the flood took, so a slow machine cannot make it fail.
 */
jest.setTimeout(120_000);

const per_second = 10;
const flood_ms = 3_000;
const workers = 8;
/** Waits on a loaded machine: generous, never a measure of speed. */
const timeout_ms = 15_000;

const definition = {
  service: 'accounts' as const,
  schema: accounts_config_schema,
  module: AppModule.forConfig,
  env: { RATE_LIMIT_PER_SECOND: String(per_second), RATE_LIMIT_UNAUTHENTICATED_PER_SECOND: '4' },
};

describe('rate limits across two replicas', () => {
  let stack: InProcessStack;

  beforeAll(async () => {
    stack = await startInProcess([definition]);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('two replicas behind one principal admit, together, at most the budget each second; alone again, one admits it all', async () => {
    const first = stack.apps['accounts'];
    if (!first) throw new Error('accounts did not start');
    const second = await stack.startReplica(definition);
    const urls = [stack.urls['accounts'] as string, second.url];
    await waitFor(() => first.get(ReplicaCensus).replicas === 2 && second.app.get(ReplicaCensus).replicas === 2, { description: 'each replica hears the other', timeout_ms });
    expect(first.get(RateLimits).share(per_second)).toBe(per_second / 2);

    const wallet = await fundedWallet(stack, 0);
    const read = (url: string): Promise<FetchResult<unknown>> =>
      jsonFetch(`${url}/v1/accounts/${wallet.id}`, { headers: { authorization: `Bearer ${wallet.token as string}` } });
    for (const url of urls) expect((await read(url)).status).toBe(200);
    await sleep(1_100); // the warm-up's window is over

    const started_ms = performance.now();
    const answers: number[] = [];
    await Promise.all(
      Array.from({ length: workers }, async (_, worker) => {
        for (let index = worker; performance.now() - started_ms < flood_ms; index++) answers.push((await read(urls[index % 2] as string)).status);
      }),
    );
    const windows = Math.floor((performance.now() - started_ms) / 1_000) + 1;
    const admitted = answers.filter((status) => status === 200).length;
    expect(answers.filter((status) => status !== 200 && status !== 429)).toEqual([]);
    expect(answers.filter((status) => status === 429).length).toBeGreaterThan(0);
    expect(admitted).toBeLessThanOrEqual(per_second * windows);

    // A replica that stops says so: the other takes the whole budget at once.
    await second.app.close();
    await waitFor(() => first.get(ReplicaCensus).replicas === 1, { description: 'the stopped replica is gone', timeout_ms });
    expect(first.get(RateLimits).share(per_second)).toBe(per_second);
  });
});
