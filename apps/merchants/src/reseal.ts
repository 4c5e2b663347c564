import { idempotencySealedColumn, runResealCommand, sealedById } from '@paynet/platform';

/** `npm run secrets:reseal`: this service's sealed values under SECRETS_KEY (docs/SECURITY.md, Rotating secrets). */
void runResealCommand('merchants', [
  sealedById('merchants', 'api_keys', 'secret_sealed'),
  sealedById('merchants', 'merchants', 'webhook_secret_sealed'),
  sealedById('merchants', 'webhook_endpoint_secrets', 'secret_sealed'),
  idempotencySealedColumn('merchants'),
]);
