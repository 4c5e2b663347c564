import { EventTypes } from '@paynet/contracts';

/** Events a merchant's endpoint can ask for: every type but the holder's own. */
export const merchant_event_types = EventTypes.filter((type) => type !== 'account.balance_updated');
// push filters with the same rule (it caches endpoint lists): one definition, in contracts.
export { admitsEvent, all_events } from '@paynet/contracts';
