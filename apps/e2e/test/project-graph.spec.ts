import { workspaceRoot } from '@paynet/testing';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** `nx affected -t test` must test exactly what a change can break (README, "Teams working on one part"). */
describe('the project graph', () => {
  function affectedBy(file: string): string[] {
    const output = execFileSync(join(workspaceRoot(), 'node_modules/.bin/nx'), ['show', 'projects', '--affected', `--files=${file}`, '--json'], {
      cwd: workspaceRoot(),
      env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' },
      encoding: 'utf8',
    });
    return (JSON.parse(output) as string[]).sort();
  }

  it('tests ledger, accounts (which imports it), e2e and chaos (which run every service), and nothing else, when only libs/ledger changes', () => {
    expect(affectedBy('libs/ledger/src/entry.ts')).toEqual(['accounts', 'chaos', 'e2e', 'ledger']);
  });

  it('tests the whole platform end to end when one service changes', () => {
    expect(affectedBy('apps/payments/src/main.ts')).toEqual(['chaos', 'e2e', 'payments']);
  });
});
