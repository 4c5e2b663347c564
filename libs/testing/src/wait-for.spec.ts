import { waitFor } from './wait-for.js';

describe('waitFor', () => {
  it('returns the first truthy value', async () => {
    let calls = 0;
    const value = await waitFor(() => (++calls >= 3 ? { calls } : undefined), { interval_ms: 1 });
    expect(value).toEqual({ calls: 3 });
  });

  it('treats a throw as not yet', async () => {
    let calls = 0;
    const value = await waitFor(
      async () => {
        if (++calls < 3) throw new Error('not there yet');
        return 'there';
      },
      { interval_ms: 1 },
    );
    expect(value).toBe('there');
  });

  it('gives up after timeout_ms, saying what it waited for and the last error', async () => {
    const started_ms = Date.now();
    await expect(
      waitFor(
        () => {
          throw new Error('still 404');
        },
        { timeout_ms: 100, interval_ms: 10, description: 'the webhook' },
      ),
    ).rejects.toThrow('waitFor timed out after 100 ms for the webhook (last error: still 404)');
    // Never before its time; how long after depends on the machine's load (Jest's timeout bounds a hang).
    expect(Date.now() - started_ms).toBeGreaterThanOrEqual(90);
  });

  it('calls the predicate a bounded number of times', async () => {
    let calls = 0;
    await expect(waitFor(() => (calls++, false), { timeout_ms: 50, interval_ms: 10 })).rejects.toThrow(/timed out/);
    expect(calls).toBeLessThanOrEqual(7);
    expect(calls).toBeGreaterThanOrEqual(2);
  });
});
