import type pg from 'pg';
import { batchVerdict } from './group-commit.js';

type Settled = PromiseSettledResult<pg.QueryResult>;

const ok = (command: string): Settled => ({ status: 'fulfilled', value: { command, rowCount: 0, oid: 0, fields: [], rows: [] } });
/** A refusal by a live server: pg's DatabaseError carries the severity. */
const refused = (code: string, severity = 'ERROR'): Settled => ({ status: 'rejected', reason: Object.assign(new Error(code), { code, severity }) });
const lost: Settled = { status: 'rejected', reason: new Error('Connection terminated unexpectedly') };

describe('what a shared transaction’s answers mean for its statements', () => {
  it('gives each statement its own answer when the transaction committed', () => {
    expect(batchVerdict(ok('BEGIN'), [ok('SELECT'), ok('INSERT')], ok('COMMIT'))).toBe('each_own');
  });

  it('runs every statement again alone when one was refused (the COMMIT then answers ROLLBACK)', () => {
    expect(batchVerdict(ok('BEGIN'), [ok('SELECT'), refused('23514'), refused('25P02')], ok('ROLLBACK'))).toBe('retry_alone');
    // Whatever became of the commit afterwards: a refused statement aborted the transaction.
    expect(batchVerdict(ok('BEGIN'), [refused('40P01'), lost], lost)).toBe('retry_alone');
  });

  it('runs every statement again alone when the server refused the COMMIT itself (a deferred check): it rolled back', () => {
    expect(batchVerdict(ok('BEGIN'), [ok('INSERT'), ok('INSERT')], refused('23505'))).toBe('retry_alone');
  });

  it('calls the outcome unknown when the COMMIT got no answer, or a fatal one (the session ended)', () => {
    expect(batchVerdict(ok('BEGIN'), [ok('INSERT'), ok('INSERT')], lost)).toBe('unknown');
    expect(batchVerdict(ok('BEGIN'), [ok('INSERT'), refused('57P01', 'FATAL')], lost)).toBe('unknown');
    expect(batchVerdict(ok('BEGIN'), [ok('INSERT')], refused('57P01', 'FATAL'))).toBe('unknown');
  });

  it('gives each statement its own answer when BEGIN failed: each ran, if at all, as its own autocommit', () => {
    expect(batchVerdict(lost, [lost, lost], lost)).toBe('each_own');
    expect(batchVerdict(refused('XX000'), [ok('INSERT'), refused('23514')], ok('COMMIT'))).toBe('each_own');
  });
});
