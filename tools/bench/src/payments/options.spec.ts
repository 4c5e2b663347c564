import { quick_duration_s, UsageError } from '../options.js';
import { default_concurrency, parsePaymentsOptions, quick_holders } from './options.js';

describe('parsePaymentsOptions', () => {
  it('defaults to the issue load: 16 clients, 30 s phases', () => {
    expect(parsePaymentsOptions([])).toMatchObject({ concurrency: default_concurrency, duration_s: 30, quick: false });
  });

  it('makes --quick a short smoke run with fewer holders', () => {
    expect(parsePaymentsOptions(['--quick'])).toMatchObject({ duration_s: quick_duration_s, holders: quick_holders, quick: true });
  });

  it('refuses numbers out of bounds and unknown flags', () => {
    expect(() => parsePaymentsOptions(['--merchants', '1'])).toThrow(UsageError);
    expect(() => parsePaymentsOptions(['--concurrency', '2.5'])).toThrow(UsageError);
    expect(() => parsePaymentsOptions(['--fast'])).toThrow(UsageError);
  });
});
