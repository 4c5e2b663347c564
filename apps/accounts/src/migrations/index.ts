import { OutboxPruning1736200000000 } from '@paynet/platform';
import { Initial1732300000000 } from './1732300000000-initial.js';
import { Holds1732500000000 } from './1732500000000-holds.js';
import { PostingsReferenceCheck1732600000000 } from './1732600000000-postings-reference-check.js';
import { RefusedCommands1734100000000 } from './1734100000000-refused-commands.js';
import { RefusedCommandsNoTruncate1734100100000 } from './1734100100000-refused-commands-no-truncate.js';
import { JournalDefendsItself1734600000000 } from './1734600000000-journal-defends-itself.js';
import { Outbox1735000000000 } from './1735000000000-outbox.js';
import { HolderTokenRotation1735400000000 } from './1735400000000-holder-token-rotation.js';

/** Every migration of this service, in order. */
export const migrations = [
  Initial1732300000000,
  Holds1732500000000,
  PostingsReferenceCheck1732600000000,
  RefusedCommands1734100000000,
  RefusedCommandsNoTruncate1734100100000,
  JournalDefendsItself1734600000000,
  Outbox1735000000000,
  HolderTokenRotation1735400000000,
  OutboxPruning1736200000000,
];

/**
 * Tables whose rows are never updated or deleted (their triggers refuse it):
 * the service's runtime role may only read and insert (docs/SECURITY.md, "Database roles").
 */
export const append_only_tables = ['journal_entries', 'postings', 'refused_commands'] as const;
