import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { log_run_in_use_ms, log_runs_kept, makeRunLogDir } from './test-logs.js';

describe('test log folders', () => {
  let parent: string;
  beforeEach(() => (parent = mkdtempSync(join(tmpdir(), 'test-logs-'))));
  afterEach(() => rmSync(parent, { recursive: true, force: true }));

  const old = (name: string) => {
    mkdirSync(join(parent, name));
    const long_ago = new Date(Date.now() - 2 * log_run_in_use_ms);
    utimesSync(join(parent, name), long_ago, long_ago);
  };

  it('keeps the newest runs, removes older ones, and never its own new folder', () => {
    for (let index = 0; index < log_runs_kept + 5; index++) old(`2026-01-01T00-00-${String(index).padStart(2, '0')}-000Z-t_old${index}`);
    mkdirSync(join(parent, 'in-process-t_legacy'));
    const made = makeRunLogDir(parent, 'in-process-t_new');
    const left = readdirSync(parent);
    expect(left).toContain(made.split('/').at(-1));
    expect(left).toContain('in-process-t_legacy'); // not named like a run: not ours to remove
    expect(left.filter((name) => name.startsWith('2026-01-01'))).toHaveLength(log_runs_kept - 1);
    expect(left).not.toContain('2026-01-01T00-00-00-000Z-t_old0');
  });

  it('spares an old-named run that was used recently (a test still running beside this one)', () => {
    for (let index = 0; index < log_runs_kept + 1; index++) mkdirSync(join(parent, `2026-01-01T00-00-${String(index).padStart(2, '0')}-000Z-t_busy${index}`));
    makeRunLogDir(parent, 't_new');
    expect(readdirSync(parent)).toHaveLength(log_runs_kept + 2);
  });
});
