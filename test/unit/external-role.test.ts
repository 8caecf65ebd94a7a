/** What the manager asks of its role on an external server (external-role.ts): no PostgreSQL. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { missingPrivileges, type RoleFacts } from '../../src/core/database/external-role.js';

const operator: RoleFacts = {
  role: 'appvisor_admin',
  versionNum: 180001,
  version: '18.1',
  superuser: false,
  createdb: true,
  createrole: true,
  inherit: true,
  selfGrant: '',
};

describe("the external server's role", () => {
  test('LOGIN CREATEDB CREATEROLE is enough on 16 and later, even without INHERIT', () => {
    assert.equal(missingPrivileges(operator), null);
    assert.equal(missingPrivileges({ ...operator, inherit: false, selfGrant: 'set' }), null);
  });

  test('what is missing is named, with the statement that gives it', () => {
    assert.equal(
      missingPrivileges({ ...operator, createdb: false, createrole: false }),
      'the role "appvisor_admin" lacks CREATEDB, CREATEROLE; as a superuser run: ALTER ROLE "appvisor_admin" CREATEDB CREATEROLE',
    );
  });

  test('PostgreSQL 15 needs INHERIT too; 14 is refused; a superuser lacks nothing', () => {
    const on15 = { ...operator, versionNum: 150007, version: '15.7', inherit: false };
    assert.match(
      missingPrivileges(on15) ?? '',
      /lacks INHERIT; .*ALTER ROLE "appvisor_admin" INHERIT$/,
    );
    assert.equal(missingPrivileges({ ...on15, inherit: true }), null);
    assert.match(
      missingPrivileges({ ...operator, versionNum: 140012, version: '14.12', superuser: true }) ??
        '',
      /PostgreSQL 14\.12; appvisor needs 15 or later/,
    );
    assert.equal(
      missingPrivileges({ ...operator, superuser: true, createdb: false, createrole: false }),
      null,
    );
  });
});
