import { list_query } from '@paynet/platform';
import { z } from 'zod';

export const event_id = z.string().regex(/^evt_[0-9A-Za-z]{8,64}$/, { error: "must be an event id ('evt_...')" });

export const list_deliveries_query = list_query.extend({ event: event_id.optional() });
export type ListDeliveriesQuery = z.infer<typeof list_deliveries_query>;

/** Redeliver takes no parameters; anything sent is refused as unknown. */
export const redeliver_body = z.strictObject({});

