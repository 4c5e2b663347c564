import type { TransferReply } from '@paynet/contracts';
import { type InProcessStack, startInProcess } from '@paynet/testing';
import pg from 'pg';
import { AppModule } from '../src/app.module.js';
import { accounts_config_schema } from '../src/config.js';
import { fundedWallet, transferCommand } from './support.js';

const commands_in_flight = 200;

/** Stopping accounts while transfers are in flight: every answer it gave is true, and none is a server error. */
describe('accounts shutting down under load', () => {
  let stack: InProcessStack;

  beforeAll(async () => {
    stack = await startInProcess([{ service: 'accounts', schema: accounts_config_schema, module: AppModule.forConfig }]);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('answers the commands it read before it stops, and what it answered applied is in the journal', async () => {
    const [payer, shop] = [await fundedWallet(stack, 1_000_000), await fundedWallet(stack, 0)];
    const sends = Array.from({ length: commands_in_flight }, (_, index) =>
      stack.rpc.request<TransferReply>('accounts.transfers.post', transferCommand(`stop-${index}`, payer.id, shop.id, 10), { timeout_ms: 3_000 }),
    );
    await sends[0];
    await stack.apps['accounts']?.close();
    delete stack.apps['accounts'];
    const answers = await Promise.allSettled(sends);

    const applied = answers.flatMap((answer) => (answer.status === 'fulfilled' ? [answer.value.transfer_id] : []));
    const refused = answers.flatMap((answer) => (answer.status === 'rejected' ? [answer.reason as { status: number; code: string }] : []));
    expect(applied.length).toBeGreaterThan(0);
    // Not answered (no one listens any more, or no answer in time): the caller re-sends; never a 500.
    for (const reason of refused) expect(reason).toMatchObject({ status: 503 });

    const client = new pg.Client({ connectionString: stack.databaseUrl });
    await client.connect();
    const stored: { id: string }[] = (await client.query(`SELECT id FROM accounts.journal_entries WHERE id LIKE 'stop-%'`)).rows;
    await client.end();
    // Everything answered applied is there; anything else there was applied but its answer was lost to the stop.
    expect(stored.map((row) => row.id)).toEqual(expect.arrayContaining(applied));
    expect(stored.length).toBeLessThanOrEqual(commands_in_flight);
  });
});
