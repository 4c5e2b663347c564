import { events_duplicate_window_ms } from '../nats/jetstream.js';
import { outbox_fallback_age_ms, outbox_mark_interval_ms } from './outbox.js';

describe('outbox timings', () => {
  it('re-publishes a row published but not marked well within the stream duplicate window, so the broker drops the copy', () => {
    // The latest a copy goes out after the first publish: a mark missed, then the fallback's idle look (every fallback age) finds it.
    const latest_copy_ms = outbox_mark_interval_ms + 2 * outbox_fallback_age_ms;
    expect(latest_copy_ms * 4).toBeLessThanOrEqual(events_duplicate_window_ms);
  });
});
