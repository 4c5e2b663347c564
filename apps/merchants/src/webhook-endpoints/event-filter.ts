import { EventTypes } from '@paynet/contracts';

/** Events a merchant's endpoint can ask for: every type but the holder's own. */
export const merchant_event_types = EventTypes.filter((type) => type !== 'account.balance_updated');
export const all_events = '*';

/** Pure: does an endpoint's `enabled_events` admit this event type? `*` admits every type, a new one included. */
export function admitsEvent(enabled_events: readonly string[], type: string): boolean {
  return enabled_events.includes(all_events) || enabled_events.includes(type);
}
