import { OutboxPruning1736200000000 } from '@paynet/platform';
import { Initial1732300000000 } from './1732300000000-initial.js';
import { HoldsAndRefunds1733000000000 } from './1733000000000-holds-and-refunds.js';
import { RiskAdmissions1733100000000 } from './1733100000000-risk-admissions.js';
import { Reconcile1733200000000 } from './1733200000000-reconcile.js';
import { AttemptKey1736500000000 } from './1736500000000-attempt-key.js';
import { HoldActionKey1736640000000 } from './1736640000000-hold-action-key.js';

/** Every migration of this service, in order. */
export const migrations = [
  Initial1732300000000,
  HoldsAndRefunds1733000000000,
  RiskAdmissions1733100000000,
  Reconcile1733200000000,
  OutboxPruning1736200000000,
  AttemptKey1736500000000,
  HoldActionKey1736640000000,
];
