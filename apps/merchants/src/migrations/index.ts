import { Initial1732300000000 } from './1732300000000-initial.js';

/** Every migration of this service, in order. */
export const migrations = [Initial1732300000000];
