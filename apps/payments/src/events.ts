import { type EventType, IdPrefix, newId, type PlatformEvent } from '@paynet/contracts';

/** An event about one object of a merchant; `account` is the payer's account when the object is about a paid intent. */
export function newEvent<T extends object>(type: EventType, object: T, merchant: string, account: string | null): PlatformEvent<T> {
  return {
    id: newId(IdPrefix.event),
    object: 'event',
    type,
    created: Math.floor(Date.now() / 1000),
    merchant,
    account,
    data: { object },
  };
}
