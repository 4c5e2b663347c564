import { randomBytes } from 'node:crypto';
import { nats_prefix_pattern } from '@paynet/devstack';

const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
const suffix_length = 12;
const database_name_pattern = /^[a-z_][a-z0-9_]{0,62}$/;

/** `length` random characters of [a-z0-9]: safe in database names, NATS subjects and file names. */
export function randomSuffix(length: number = suffix_length): string {
  const bytes = randomBytes(length);
  let suffix = '';
  for (const byte of bytes) suffix += alphabet[byte % alphabet.length];
  return suffix;
}

/** e.g. paynet_test_k3j9x0q1m2ab */
export function uniqueDatabaseName(prefix = 'paynet_test'): string {
  const name = `${prefix}_${randomSuffix()}`;
  if (!database_name_pattern.test(name)) throw new RangeError(`database name prefix must be lower case [a-z0-9_], got "${prefix}"`);
  return name;
}

/** e.g. t_k3j9x0q1m2ab: a run's own subjects and streams on a shared NATS. */
export function uniqueNatsPrefix(prefix = 't'): string {
  const name = `${prefix}_${randomSuffix()}`;
  if (!nats_prefix_pattern.test(name)) throw new RangeError(`NATS prefix must match ${nats_prefix_pattern}, got "${name}"`);
  return name;
}
