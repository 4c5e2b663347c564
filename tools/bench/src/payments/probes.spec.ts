import { prometheusValue, summariseStatements } from './probes.js';

describe('prometheusValue', () => {
  const text = [
    '# HELP paynet_process_cpu_seconds_total Total user and system CPU time spent in seconds.',
    '# TYPE paynet_process_cpu_seconds_total counter',
    'paynet_process_cpu_seconds_total 12.5',
    'paynet_process_cpu_seconds_total_extra 99',
    'paynet_process_resident_memory_bytes 150994944',
  ].join('\n');

  it('reads the value of the sample with exactly that name', () => {
    expect(prometheusValue(text, 'paynet_process_cpu_seconds_total')).toBe(12.5);
    expect(prometheusValue(text, 'paynet_process_resident_memory_bytes')).toBe(150_994_944);
  });

  it('answers undefined for a metric the text does not have', () => {
    expect(prometheusValue(text, 'paynet_process_cpu')).toBeUndefined();
  });
});

describe('summariseStatements', () => {
  it('counts work statements only, transaction control apart, and lists them one line each', () => {
    const figures = summariseStatements([
      { query: 'BEGIN', calls: 50 },
      { query: 'SELECT *\n  FROM merchants WHERE id = $1', calls: 30 },
      { query: 'COMMIT', calls: 50 },
      { query: 'insert into nonces values ($1)', calls: 10 },
      { query: 'ROLLBACK', calls: 1 },
    ]);
    expect(figures.statements).toBe(40);
    expect(figures.top).toEqual([
      { query: 'SELECT * FROM merchants WHERE id = $1', calls: 30 },
      { query: 'insert into nonces values ($1)', calls: 10 },
    ]);
  });
});
