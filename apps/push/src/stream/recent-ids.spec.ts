import { RecentIds } from './recent-ids.js';
import { errorFrame, eventFrame, parseClientMessage } from './stream.frames.js';

describe('RecentIds', () => {
  it('answers true once per id, and forgets the oldest beyond its capacity', () => {
    const recent = new RecentIds(2);
    expect(recent.firstTime('a')).toBe(true);
    expect(recent.firstTime('a')).toBe(false);
    expect(recent.firstTime('b')).toBe(true);
    expect(recent.firstTime('c')).toBe(true);
    expect(recent.firstTime('b')).toBe(false);
    expect(recent.firstTime('a')).toBe(true);
    expect(() => new RecentIds(0)).toThrow(RangeError);
  });
});

describe('stream frames', () => {
  it('wraps the exact event bytes in an event frame', () => {
    const payload = '{"id":"evt_12345678","object":"event"}';
    expect(JSON.parse(eventFrame(payload))).toEqual({ type: 'event', event: { id: 'evt_12345678', object: 'event' } });
  });

  it('reads a resume message and refuses anything else with an error frame', () => {
    expect(parseClientMessage('{"type":"resume","after":"evt_12345678"}')).toEqual({ ok: true, message: { type: 'resume', after: 'evt_12345678' } });
    const code = (text: string) => {
      const result = parseClientMessage(text);
      return result.ok ? 'ok' : (JSON.parse(result.frame) as { error: { code: string } }).error.code;
    };
    expect(code('not json')).toBe('invalid_json');
    expect(code('{"type":"subscribe"}')).toBe('parameter_invalid');
    expect(code('null')).toBe('parameter_invalid');
    expect(code('{"type":"resume"}')).toBe('parameter_missing');
    expect(code('{"type":"resume","after":"evt_12345678","x":1}')).toBe('unknown_parameter');
    expect(code('{"type":"resume","after":"pi_12345678"}')).toBe('resource_missing');
    expect(JSON.parse(errorFrame('resource_missing', 'gone'))).toEqual({ type: 'error', error: { code: 'resource_missing', message: 'gone' } });
  });
});
