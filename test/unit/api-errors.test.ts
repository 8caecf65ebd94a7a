import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { formatSchemaError, toErrorBody } from '../../src/api/errors.js';
import { AppvisorError, errorCatalog } from '../../src/core/errors/index.js';

describe('toErrorBody', () => {
  test('an AppvisorError keeps its code, status and message', () => {
    const mapped = toErrorBody(new AppvisorError('LOGIN_FAILED', 'wrong password'));
    assert.deepEqual(mapped, {
      status: 401,
      body: { code: 'LOGIN_FAILED', message: 'wrong password' },
    });
  });

  test('an AppvisorError with retryAfter passes it on', () => {
    const error = Object.assign(new AppvisorError('RATE_LIMITED', 'try again in 30 s'), {
      retryAfter: 30,
    });
    assert.deepEqual(toErrorBody(error), {
      status: 429,
      body: { code: 'RATE_LIMITED', message: 'try again in 30 s' },
      retryAfter: 30,
    });
  });

  test('a framework validation error becomes 400 BAD_REQUEST with its message', () => {
    const error = Object.assign(new Error('body must have required property "password"'), {
      validation: [{ keyword: 'required', params: { missingProperty: 'password' } }],
      statusCode: 400,
      code: 'FST_ERR_VALIDATION',
    });
    assert.deepEqual(toErrorBody(error), {
      status: 400,
      body: {
        code: 'BAD_REQUEST',
        message: 'body must have required property "password"',
        field: 'password',
      },
    });
  });

  test('an AppvisorError about one field names it, so that a form can show it there', () => {
    const mapped = toErrorBody(
      new AppvisorError('PATH_TAKEN', 'the path /a is taken', { field: 'path' }),
    );
    assert.deepEqual(mapped.body, {
      code: 'PATH_TAKEN',
      message: 'the path /a is taken',
      field: 'path',
    });
  });

  test('a schema error names the field: a wrong value by its path, a missing one by name', () => {
    const wrong = Object.assign(new Error('body/logMaxBytes must be >= 65536'), {
      validation: [{ keyword: 'minimum', instancePath: '/logMaxBytes', params: { limit: 65536 } }],
      statusCode: 400,
    });
    assert.equal(toErrorBody(wrong).body.field, 'logMaxBytes');
    const missing = Object.assign(new Error("body must have required property 'app'"), {
      validation: [{ keyword: 'required', instancePath: '', params: { missingProperty: 'app' } }],
      statusCode: 400,
    });
    assert.equal(toErrorBody(missing).body.field, 'app');
  });

  test('a body too large keeps status 413', () => {
    const error = Object.assign(new Error('Request body is too large'), {
      statusCode: 413,
      code: 'FST_ERR_CTP_BODY_TOO_LARGE',
    });
    const mapped = toErrorBody(error);
    assert.equal(mapped.status, 413);
    assert.equal(mapped.body.code, 'BAD_REQUEST');
  });

  test('a refused database connection becomes 503 DATABASE_UNAVAILABLE with a retry delay', () => {
    const error = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
      code: 'ECONNREFUSED',
      syscall: 'connect',
    });
    const mapped = toErrorBody(error);
    assert.equal(mapped.status, 503);
    assert.equal(mapped.body.code, 'DATABASE_UNAVAILABLE');
    assert.equal(mapped.body.message, errorCatalog.DATABASE_UNAVAILABLE.text);
    assert.ok(!mapped.body.message.includes('5432'));
    assert.equal(typeof mapped.retryAfter, 'number');
    assert.ok(mapped.retryAfter! >= 1);
  });

  test('a PostgreSQL shutdown and a dropped connection are DATABASE_UNAVAILABLE too', () => {
    const shutdown = Object.assign(
      new Error('terminating connection due to administrator command'),
      {
        code: '57P01',
      },
    );
    assert.equal(toErrorBody(shutdown).body.code, 'DATABASE_UNAVAILABLE');
    const dropped = new Error('Connection terminated unexpectedly');
    assert.equal(toErrorBody(dropped).body.code, 'DATABASE_UNAVAILABLE');
  });

  test('DATABASE_UNAVAILABLE from the core always says when to retry', () => {
    const mapped = toErrorBody(new AppvisorError('DATABASE_UNAVAILABLE'));
    assert.equal(mapped.status, 503);
    assert.equal(mapped.body.code, 'DATABASE_UNAVAILABLE');
    assert.ok(mapped.retryAfter! >= 1, JSON.stringify(mapped));
  });

  test('a connection reset while a query ran is DATABASE_UNAVAILABLE', () => {
    const reset = Object.assign(new Error('read ECONNRESET'), {
      code: 'ECONNRESET',
      syscall: 'read',
    });
    assert.equal(toErrorBody(reset).body.code, 'DATABASE_UNAVAILABLE');
    const broken = new Error('Client has encountered a connection error and is not queryable');
    assert.equal(toErrorBody(broken).body.code, 'DATABASE_UNAVAILABLE');
  });

  test('a missing file outside a connection attempt is INTERNAL, not a database outage', () => {
    const error = Object.assign(new Error("ENOENT: no such file or directory, open '/x'"), {
      code: 'ENOENT',
      syscall: 'open',
    });
    assert.equal(toErrorBody(error).body.code, 'INTERNAL');
  });

  test('null and undefined thrown are INTERNAL', () => {
    assert.equal(toErrorBody(null).body.code, 'INTERNAL');
    assert.equal(toErrorBody(undefined).status, 500);
  });

  test("the framework's 415 is UNSUPPORTED_MEDIA_TYPE, its other client errors keep their status", () => {
    const mapped = toErrorBody(
      Object.assign(new Error('Unsupported Media Type'), { statusCode: 415 }),
    );
    assert.equal(mapped.status, 415);
    assert.equal(mapped.body.code, 'UNSUPPORTED_MEDIA_TYPE');
    const large = toErrorBody(
      Object.assign(new Error('Request body is too large'), { statusCode: 413 }),
    );
    assert.equal(large.status, 413);
    assert.equal(large.body.code, 'BAD_REQUEST');
  });

  test('an unknown field is named, in the message and as the field', () => {
    const error = Object.assign(
      formatSchemaError(
        [
          {
            keyword: 'additionalProperties',
            instancePath: '',
            schemaPath: '#/additionalProperties',
            params: { additionalProperty: 'passwrd' },
            message: 'must NOT have additional properties',
          },
        ],
        'body',
      ),
      {
        validation: [
          {
            keyword: 'additionalProperties',
            instancePath: '',
            params: { additionalProperty: 'passwrd' },
          },
        ],
        statusCode: 400,
      },
    );
    assert.deepEqual(toErrorBody(error).body, {
      code: 'BAD_REQUEST',
      message: 'body has an unknown field "passwrd"',
      field: 'passwrd',
    });
  });

  test('any other error is 500 INTERNAL and its details are not shown', () => {
    const mapped = toErrorBody(new Error('secret detail'));
    assert.equal(mapped.status, 500);
    assert.equal(mapped.body.code, 'INTERNAL');
    assert.ok(!mapped.body.message.includes('secret detail'), mapped.body.message);
    assert.equal(mapped.retryAfter, undefined);
  });

  test('a non-catalog error carrying a 500 statusCode is still INTERNAL with no details', () => {
    const error = Object.assign(new Error('secret detail'), { statusCode: 500, code: 'EWHATEVER' });
    const mapped = toErrorBody(error);
    assert.equal(mapped.status, 500);
    assert.equal(mapped.body.code, 'INTERNAL');
    assert.ok(!mapped.body.message.includes('secret detail'));
  });

  test('a thrown non-Error value is INTERNAL', () => {
    for (const value of ['secret detail', 42, { message: 'secret detail' }]) {
      const mapped = toErrorBody(value);
      assert.equal(mapped.status, 500);
      assert.equal(mapped.body.code, 'INTERNAL');
      assert.ok(!mapped.body.message.includes('secret detail'));
    }
  });
});
