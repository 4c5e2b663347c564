import { Initial1732400000000 } from './1732400000000-initial.js';
import { WebhookEndpoints1734500000000 } from './1734500000000-webhook-endpoints.js';
import { DeliveriesWithoutEventFk1736300000000 } from './1736300000000-deliveries-without-event-fk.js';

/** Every migration of this service, in order. */
export const migrations = [Initial1732400000000, WebhookEndpoints1734500000000, DeliveriesWithoutEventFk1736300000000];
