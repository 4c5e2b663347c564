import { decodeReply, describeReplyError } from './transfers.js';

const envelope = { status: 402, error: { type: 'payment_error', code: 'insufficient_funds', message: 'Insufficient funds.' } };

describe('decodeReply', () => {
  it('is a success only for "applied" of this very transfer', () => {
    const reply = { id: 'bench-1', response: { transfer_id: 't1', result: 'applied', created: 1, line_ids: ['a', 'b'] }, isDisposed: true };
    expect(decodeReply(JSON.stringify(reply), 't1')).toEqual({ ok: true });
    expect(decodeReply(JSON.stringify(reply), 't2')).toEqual({ ok: false, kind: 'reply without this transfer', applied: 'maybe' });
  });

  it('counts "already_applied" for a fresh id as a failure that may have been applied', () => {
    const reply = { id: 'bench-1', response: { transfer_id: 't1', result: 'already_applied', created: 1, line_ids: [] } };
    expect(decodeReply(JSON.stringify(reply), 't1')).toEqual({ ok: false, kind: 'already_applied for a fresh transfer id', applied: 'maybe' });
  });

  it('names an API error by status and code, and knows it was not applied', () => {
    expect(decodeReply(JSON.stringify({ id: 'bench-1', err: envelope, isDisposed: true }), 't1')).toEqual({ ok: false, kind: '402 insufficient_funds', applied: 'no' });
  });

  it('treats an unreadable or empty answer as an unknown outcome', () => {
    expect(decodeReply('not json', 't1')).toEqual({ ok: false, kind: 'unreadable reply', applied: 'maybe' });
    expect(decodeReply(JSON.stringify({ id: 'bench-1', isDisposed: true }), 't1')).toMatchObject({ ok: false, applied: 'maybe' });
  });
});

describe('describeReplyError', () => {
  it('shows an error that is not an envelope, shortened', () => {
    expect(describeReplyError('There is no matching message handler defined in the remote service.')).toBe(
      'error: There is no matching message handler defined in the remote service.',
    );
    expect(describeReplyError({ message: 'x'.repeat(500) })).toHaveLength('error: '.length + 120);
  });
});
