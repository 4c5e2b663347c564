import { databaseRoleName, generateDatabaseRoles, roleDatabaseUrl, serviceDatabaseEnv } from './database-roles.js';
import { serviceNames } from './stack-env.js';

describe('database roles of a stack', () => {
  it('names one role per service after the database, with distinct fresh passwords', () => {
    const roles = generateDatabaseRoles('paynet_test_abc');
    expect(serviceNames.map((name) => roles[name].user)).toEqual(serviceNames.map((name) => `paynet_test_abc_${name}`));
    expect(new Set(serviceNames.map((name) => roles[name].password)).size).toBe(serviceNames.length);
    expect(generateDatabaseRoles('paynet').accounts.password).not.toBe(generateDatabaseRoles('paynet').accounts.password);
    expect(() => databaseRoleName('Bad-Name', 'push')).toThrow(RangeError);
  });

  it('gives a service its role in DATABASE_URL (same server and database) and the owner in DATABASE_OWNER_URL', () => {
    const owner = 'postgres://postgres@127.0.0.1:5433/paynet_test_abc?sslmode=disable';
    const roles = generateDatabaseRoles('paynet_test_abc');
    const env = serviceDatabaseEnv(owner, roles, 'payments');
    expect(env.DATABASE_OWNER_URL).toBe(owner);
    const runtime = new URL(env.DATABASE_URL);
    expect(runtime.username).toBe('paynet_test_abc_payments');
    expect(decodeURIComponent(runtime.password)).toBe(roles.payments.password);
    expect(`${runtime.host}${runtime.pathname}${runtime.search}`).toBe('127.0.0.1:5433/paynet_test_abc?sslmode=disable');
    expect(new URL(roleDatabaseUrl(owner, { user: 'r', password: 'p@ss/w:rd' })).password).toBe(encodeURIComponent('p@ss/w:rd'));
  });
});
