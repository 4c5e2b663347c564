import { idempotencySealedColumn, runResealCommand } from '@paynet/platform';

/** `npm run secrets:reseal`: this service's sealed values under SECRETS_KEY (docs/SECURITY.md, Rotating secrets). */
void runResealCommand('accounts', [idempotencySealedColumn('accounts')]);
