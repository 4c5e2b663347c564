import { ApiError } from '@paynet/contracts';
import { createServer, type AddressInfo } from 'node:net';
import pg from 'pg';
import { QueryFailedError } from 'typeorm';
import { toApiError } from './api-exception.filter.js';
import { isDatabaseUnavailable } from './database-unavailable.js';

/** An error as node-postgres builds it from a server's ErrorResponse. */
function serverError(code: string, message: string): pg.DatabaseError {
  return Object.assign(new pg.DatabaseError(message, message.length, 'error'), { code, severity: 'FATAL' });
}

describe('a database that cannot be reached is a 503, not a 500', () => {
  it('recognises a refused connection from a real client', async () => {
    // A port that was free a moment ago and is closed now.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', connectionTimeoutMillis: 2_000 });
    const error = await client.connect().then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toBeDefined();
    expect(isDatabaseUnavailable(error)).toBe(true);
    expect(toApiError(error)).toMatchObject({ status: 503, type: 'api_error', code: 'service_unavailable', retry_after_seconds: 1 });
  });

  it.each([
    ['57P01', 'terminating connection due to administrator command'],
    ['57P02', 'terminating connection because of crash of another server process'],
    ['57P03', 'the database system is starting up'],
    ['53300', 'sorry, too many clients already'],
    ['08006', 'connection failure'],
    ['08001', 'could not establish connection'],
  ])('recognises SQLSTATE %s (%s), also inside a TypeORM QueryFailedError', (code, message) => {
    const error = serverError(code, message);
    expect(isDatabaseUnavailable(error)).toBe(true);
    const wrapped = new QueryFailedError('SELECT 1', [], error);
    expect(toApiError(wrapped).status).toBe(503);
  });

  it.each(['Connection terminated unexpectedly', 'Connection terminated due to connection timeout', 'timeout exceeded when trying to connect'])(
    "recognises node-postgres's %s",
    (message) => {
      expect(toApiError(new Error(message)).status).toBe(503);
    },
  );

  it.each([
    ['42601', 'syntax error at or near "SELEC"'],
    ['23505', 'duplicate key value violates unique constraint "payment_intents_pkey"'],
    ['40001', 'could not serialize access due to concurrent update'],
    ['P0001', 'journal entries are append-only'],
  ])('leaves a statement that failed on a reachable server (%s) a 500', (code, message) => {
    const wrapped = new QueryFailedError('SELECT 1', [], serverError(code, message));
    expect(isDatabaseUnavailable(wrapped)).toBe(false);
    expect(toApiError(wrapped).status).toBe(500);
  });

  it('keeps an ApiError as it is', () => {
    const error = ApiError.badRequest('parameter_invalid', 'no');
    expect(toApiError(error)).toBe(error);
    expect(isDatabaseUnavailable(new Error('boom'))).toBe(false);
    expect(isDatabaseUnavailable(undefined)).toBe(false);
  });
});
