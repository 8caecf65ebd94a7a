import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isConnectionFailure } from '../../src/lib/pg-errors.js';

const error = (message: string, fields: Record<string, unknown> = {}) =>
  Object.assign(new Error(message), fields);

describe('isConnectionFailure', () => {
  test('a server that is away or went away while connected', () => {
    for (const failure of [
      error('connect ECONNREFUSED 127.0.0.1:5432', { code: 'ECONNREFUSED', syscall: 'connect' }),
      error('connect ENOENT /run/.s.PGSQL.5432', { code: 'ENOENT', syscall: 'connect' }),
      error('read ECONNRESET', { code: 'ECONNRESET', syscall: 'read' }),
      error('write EPIPE', { code: 'EPIPE', syscall: 'write' }),
      error('Connection terminated unexpectedly'),
      error('Client has encountered a connection error and is not queryable'),
      error('timeout exceeded when trying to connect'),
      error('terminating connection due to administrator command', { code: '57P01' }),
      error('terminating connection because of crash of another server process', {
        code: '57P02',
      }),
      error('the database system is starting up', { code: '57P03' }),
      error('connection failure', { code: '08006' }),
    ]) {
      assert.equal(isConnectionFailure(failure), true, failure.message);
    }
  });

  test("a statement's own error, a file error or no error at all is not one", () => {
    for (const other of [
      error('duplicate key value violates unique constraint', { code: '23505' }),
      error('could not extend file: No space left on device', { code: '53100' }),
      error("ENOENT: no such file or directory, open '/x'", { code: 'ENOENT', syscall: 'open' }),
      error('ENOSPC: no space left on device, write', { code: 'ENOSPC', syscall: 'write' }),
      error('something else'),
      null,
      undefined,
      'Connection terminated',
    ]) {
      assert.equal(isConnectionFailure(other), false, String(other));
    }
  });
});
