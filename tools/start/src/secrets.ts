import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';

export interface SecretSource {
  /** The variable's name, for messages (ADMIN_TOKEN). */
  name: string;
  /** Its value in the environment, which wins. */
  fromEnv: string | undefined;
  /** Where a generated value is kept so it survives restarts. */
  file: string;
  generate: () => string;
  isValid: (value: string) => boolean;
  /** What breaks if the stored value is replaced, for the error message. */
  consequence: string;
}

/**
 * The environment's value; else the one stored in `file`; else a new one,
 * stored with mode 0600. A bad stored value is an error, never silently
 * replaced: whatever it protects would be lost.
 */
export function readOrCreateSecret(source: SecretSource): { value: string; origin: 'environment' | 'file' | 'generated' } {
  if (source.fromEnv !== undefined && source.fromEnv !== '') {
    if (!source.isValid(source.fromEnv)) throw new Error(`${source.name} in the environment is not valid`);
    return { value: source.fromEnv, origin: 'environment' };
  }
  if (existsSync(source.file)) {
    const value = readFileSync(source.file, 'utf8').trim();
    if (!source.isValid(value)) {
      throw new Error(`${source.file} does not hold a valid ${source.name}: fix it, or delete it to make a new one (${source.consequence})`);
    }
    chmodSync(source.file, 0o600); // tighten a copy made with looser permissions
    return { value, origin: 'file' };
  }
  const value = source.generate();
  writeFileSync(source.file, `${value}\n`, { mode: 0o600, flag: 'wx' });
  return { value, origin: 'generated' };
}
