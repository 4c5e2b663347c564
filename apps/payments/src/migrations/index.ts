import { Initial1732300000000 } from './1732300000000-initial.js';
import { Reconcile1733200000000 } from './1733200000000-reconcile.js';

/** Every migration of this service, in order. */
export const migrations = [Initial1732300000000, Reconcile1733200000000];
