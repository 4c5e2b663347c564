import { long_run_faults, parseOptions, short_run_faults, UsageError } from './options.js';

const seed = () => 42;

describe('npm run chaos options', () => {
  it('make a short run by default, and a long one that writes its report with --long or --faults 30', () => {
    expect(parseOptions([], seed)).toMatchObject({ faults: short_run_faults, write_report: false, seed: 42 });
    expect(parseOptions(['--long'], seed)).toMatchObject({ faults: long_run_faults, write_report: true });
    expect(parseOptions(['--faults', '30'], seed)).toMatchObject({ faults: 30, write_report: true });
    expect(parseOptions(['--faults', '29', '--seed', '7', '--clients', '3', '--interval', '0'], seed)).toMatchObject({
      faults: 29,
      write_report: false,
      seed: 7,
      clients: 3,
      interval_s: 0,
    });
  });

  it('refuse numbers out of bounds, fractions, unknown flags and --long with --faults', () => {
    for (const argv of [['--faults', '0'], ['--faults', '1001'], ['--faults', '1.5'], ['--clients', '65'], ['--what'], ['--long', '--faults', '3']]) {
      expect(() => parseOptions(argv, seed)).toThrow(UsageError);
    }
  });
});
