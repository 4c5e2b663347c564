import { Initial1732400000000 } from './1732400000000-initial.js';

/** Every migration of this service, in order. */
export const migrations = [Initial1732400000000];
