/** The SDK refuses a migrations list with gaps, disorder or no `up`, at createService. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createService, type Migration } from '../../src/sdk/index.js';

const channel = { send: () => undefined, onMessage: () => undefined, onClose: () => undefined };

function make(migrations: unknown[]) {
  return () =>
    createService(
      { start: () => ({}), migrations: migrations as Migration[] },
      { channel, httpSocket: null, exitOnShutdown: false },
    );
}

test('versions must be 1, 2, 3… in order, each with an up', async () => {
  assert.throws(make([{ version: 2, up: 'SELECT 1' }]), /migrations\[0\] has version 2/);
  assert.throws(
    make([
      { version: 1, up: 'SELECT 1' },
      { version: 1, up: 'SELECT 1' },
    ]),
    /migrations\[1\] has version 1/,
  );
  assert.throws(make([{ version: 1 }]), /migration 1 has no up/);
  const service = make([
    { version: 1, up: 'SELECT 1' },
    { version: 2, up: () => Promise.resolve() },
  ])();
  await service.close();
});
