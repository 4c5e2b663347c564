import { default_concurrency, default_duration_s, default_wallets, parseOptions, quick_duration_s, UsageError } from './options.js';

describe('parseOptions', () => {
  it('defaults to 30 s phases, 256 commands in flight, 200 wallets', () => {
    expect(parseOptions([])).toMatchObject({ duration_s: default_duration_s, concurrency: default_concurrency, wallets: default_wallets, quick: false });
    expect([default_duration_s, default_concurrency, default_wallets]).toEqual([30, 256, 200]);
  });

  it('--quick shortens the phases and warm-ups; an explicit --duration still wins', () => {
    expect(parseOptions(['--quick'])).toMatchObject({ duration_s: quick_duration_s, warmup_s: 2, quick: true });
    expect(parseOptions(['--quick', '--duration', '8'])).toMatchObject({ duration_s: 8, quick: true });
  });

  it('takes each number within its bounds, including the bounds', () => {
    expect(parseOptions(['--duration', '1', '--concurrency', '1024', '--wallets', '2'])).toMatchObject({ duration_s: 1, concurrency: 1024, wallets: 2 });
    expect(parseOptions(['--duration=3600'])).toMatchObject({ duration_s: 3600 });
  });

  it('refuses numbers out of bounds or not whole, and unknown flags', () => {
    for (const argv of [['--duration', '0'], ['--duration', '3601'], ['--concurrency', '1025'], ['--wallets', '1'], ['--wallets', '2.5'], ['--wallets', '-3'], ['--wallets', 'x'], ['--fast']]) {
      expect(() => parseOptions(argv)).toThrow(UsageError);
    }
  });
});
