import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  checkTemplate,
  expandTemplate,
  usesSlots,
  type TemplateValues,
} from '../../src/core/backup/template.js';

const values: TemplateValues = {
  label: 'lab',
  app: 'echo',
  instance: 'acme',
  domain: 'example.com',
  mac: '0a1b2c3d4e5f',
  time: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)),
  slot: 2,
};

describe('backup name templates', () => {
  test('every hash parameter, and ## for a literal #', () => {
    assert.equal(
      expandTemplate('#L/#A/#I@#D-#m-#d-#bn.tar', values),
      'lab/echo/acme@example.com-0a1b2c3d4e5f-20260102-030405-2.tar',
    );
    assert.equal(expandTemplate('##I-#I.tar', values), '#I-acme.tar');
    assert.equal(expandTemplate('a###A', values), 'a#echo');
  });

  test("the spec's example: 3 rolling slots write -0, -1, -2, then -0 again", () => {
    const names = [0, 1, 2, 3].map((n) =>
      expandTemplate('backups/#A/#I-#bn.tar', { ...values, slot: n % 3 }),
    );
    assert.deepEqual(names, [
      'backups/echo/acme-0.tar',
      'backups/echo/acme-1.tar',
      'backups/echo/acme-2.tar',
      'backups/echo/acme-0.tar',
    ]);
    assert.equal(usesSlots('backups/#A/#I-#bn.tar'), true);
    assert.equal(usesSlots('#A/#I-#d.tar'), false);
    assert.equal(usesSlots('#A/##bn.tar'), false, '##bn is a literal #bn');
  });

  test('an unknown #x, a lone # at the end, absolute or escaping paths are TEMPLATE_INVALID', () => {
    for (const bad of ['#q', 'x-#b.tar', 'x#', '/abs/#I.tar', '../#I.tar', 'a//b', '', 'a/./b']) {
      assert.throws(
        () => {
          checkTemplate(bad);
        },
        (error: Error & { code?: string }) => error.code === 'TEMPLATE_INVALID',
        bad,
      );
    }
  });

  test('a control character (NUL, newline, tab) in a template is TEMPLATE_INVALID', () => {
    for (const bad of ['#A/#I\u0000.tar', '#A/#I\n-#d.tar', 'a\tb', 'a\u007fb', 'a\u0085b']) {
      assert.throws(
        () => {
          checkTemplate(bad);
        },
        (error: Error & { code?: string }) => error.code === 'TEMPLATE_INVALID',
        JSON.stringify(bad),
      );
    }
  });

  test('values never add a path segment', () => {
    assert.equal(expandTemplate('#L-#I.tar', { ...values, label: 'a/b\\c' }), 'a_b_c-acme.tar');
    assert.throws(
      () => expandTemplate('#L/#I.tar', { ...values, label: '..' }),
      (error: Error & { code?: string }) => error.code === 'TEMPLATE_INVALID',
    );
  });
});
