import { OutboxPruning1736200000000 } from '@paynet/platform';
import { Initial1732300000000 } from './1732300000000-initial.js';
import { WebhookEndpoints1734500000000 } from './1734500000000-webhook-endpoints.js';
import { StreamTokensUnderKeys1735400000000 } from './1735400000000-stream-tokens-under-keys.js';

/** Every migration of this service, in order. */
export const migrations = [Initial1732300000000, WebhookEndpoints1734500000000, StreamTokensUnderKeys1735400000000, OutboxPruning1736200000000];
