import { list_query } from '@paynet/platform';
import { z } from 'zod';

/** The same shape the recorder accepts (received-event.ts): a type added later is still a filter. */
export const event_type = z.string().regex(/^[a-z_]{1,64}(\.[a-z_]{1,64}){1,3}$/, { error: "must be an event type, e.g. 'payment_intent.succeeded'" });

export const list_events_query = list_query.extend({ type: event_type.optional() });
export type ListEventsQuery = z.infer<typeof list_events_query>;
