import { generateSecretsKey, isValidSecretsKey } from '@paynet/devstack';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readOrCreateSecret, type SecretSource } from './secrets.js';

describe('readOrCreateSecret', () => {
  let folder: string;
  let source: SecretSource;
  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'start-secrets-'));
    source = { name: 'SECRETS_KEY', fromEnv: undefined, file: join(folder, 'secrets-key'), generate: generateSecretsKey, isValid: isValidSecretsKey, consequence: 'x' };
  });
  afterEach(() => rmSync(folder, { recursive: true, force: true }));

  it('generates a value once, stores it readable by its owner only, and returns the same one next time', () => {
    const first = readOrCreateSecret(source);
    expect(first.origin).toBe('generated');
    expect(isValidSecretsKey(first.value)).toBe(true);
    expect(statSync(source.file).mode & 0o777).toBe(0o600);
    expect(readOrCreateSecret(source)).toEqual({ value: first.value, origin: 'file' });
  });

  it('prefers the environment and does not write it down', () => {
    const key = generateSecretsKey();
    expect(readOrCreateSecret({ ...source, fromEnv: key })).toEqual({ value: key, origin: 'environment' });
    expect(() => statSync(source.file)).toThrow();
  });

  it('refuses a bad stored value instead of replacing it, and a bad value in the environment', () => {
    writeFileSync(source.file, 'too short\n');
    expect(() => readOrCreateSecret(source)).toThrow(/does not hold a valid SECRETS_KEY/);
    expect(readFileSync(source.file, 'utf8')).toBe('too short\n');
    expect(() => readOrCreateSecret({ ...source, fromEnv: 'abc' })).toThrow('SECRETS_KEY in the environment is not valid');
  });

  it('tightens the mode of a stored value that was copied with looser permissions', () => {
    writeFileSync(source.file, `${generateSecretsKey()}\n`, { mode: 0o644 });
    readOrCreateSecret(source);
    expect(statSync(source.file).mode & 0o777).toBe(0o600);
  });
});
