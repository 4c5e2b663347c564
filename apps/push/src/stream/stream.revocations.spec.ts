import { parseRevocation } from './stream.revocations.js';

describe('parseRevocation: a broadcast off the bus is read only when it is exactly what merchants and accounts send', () => {
  it('reads credentials, with or without the moment they stop', () => {
    expect(parseRevocation({ credentials: ['mk_1', 'mk_2'] })).toEqual({ credentials: ['mk_1', 'mk_2'] });
    expect(parseRevocation({ credentials: ['tok_1'], expires_at: 1_800_000_000 })).toEqual({ credentials: ['tok_1'], expires_at: 1_800_000_000 });
  });

  it('ignores anything else', () => {
    for (const bad of [null, 'mk_1', [], {}, { credentials: 'mk_1' }, { credentials: [1] }, { credentials: [''] }, { credentials: ['x'.repeat(129)] }, { credentials: ['mk_1'], expires_at: '1' }, { credentials: ['mk_1'], expires_at: 1.5 }, { credentials: Array.from({ length: 1_001 }, () => 'mk_1') }]) {
      expect(parseRevocation(bad)).toBeUndefined();
    }
  });
});
