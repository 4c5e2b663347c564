import { Initial1732300000000 } from './1732300000000-initial.js';
import { RiskAdmissions1733100000000 } from './1733100000000-risk-admissions.js';

/** Every migration of this service, in order. */
export const migrations = [Initial1732300000000, RiskAdmissions1733100000000];
