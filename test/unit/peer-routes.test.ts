/** The routes to other nodes' instances (src/core/nodes/peer-routes.ts), on a counting store. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLogger } from '../../src/lib/logger.js';
import { PeerRoutes } from '../../src/core/nodes/index.js';

function countingStore(rows: () => object[]) {
  const store = {
    reads: 0,
    query: () => {
      store.reads++;
      return Promise.resolve({ rows: rows() });
    },
  };
  return store;
}

const logger = createLogger({ level: 'silent', file: { write: () => undefined } });
const row = (id: string, path: string, address = '10.0.0.3:8080', up = true) => ({
  id,
  path,
  node_id: 'n3',
  address,
  up,
});

describe('routes to the instances of other nodes', () => {
  test('the longest path wins; a bad address is skipped; IPv6 in brackets is read', async () => {
    const store = countingStore(() => [
      row('a', '/example.com/a'),
      row('ab', '/example.com/a/b', '[fd00::3]:8080'),
      row('bad', '/bad', 'no-port'),
    ]);
    const routes = new PeerRoutes({ store: store as never, nodeId: 'n1', logger });
    await routes.reload();
    assert.equal(routes.match('/example.com/a/x')?.id, 'a');
    assert.deepEqual(routes.match('/example.com/a/b/c'), {
      id: 'ab',
      path: '/example.com/a/b',
      node: 'n3',
      host: 'fd00::3',
      port: 8080,
      up: true,
    });
    assert.equal(routes.match('/example.com/ab'), undefined, 'whole segments only');
    assert.equal(routes.match('/bad'), undefined);
  });

  test('a lookup reads after it was asked: an instance made a moment ago is found', async () => {
    let rows = [row('a', '/a')];
    const store = countingStore(() => rows);
    const routes = new PeerRoutes({
      store: store as never,
      nodeId: 'n1',
      logger,
      missIntervalMs: 200,
    });
    await routes.reload();
    rows = [row('a', '/a'), row('b', '/b')];
    assert.equal(routes.match('/b'), undefined);
    assert.equal((await routes.lookup('/b'))?.id, 'b');
  });

  test('a flood of unknown paths costs one read per interval', async () => {
    const store = countingStore(() => []);
    const routes = new PeerRoutes({
      store: store as never,
      nodeId: 'n1',
      logger,
      missIntervalMs: 300,
    });
    const started = performance.now();
    await Promise.all(Array.from({ length: 200 }, (_, i) => routes.lookup(`/nothing/${i}`)));
    assert.equal(store.reads, 1, 'concurrent misses share one read');
    // The next miss waits for the interval instead of reading at once.
    await routes.lookup('/nothing/again');
    assert.equal(store.reads, 2);
    assert.ok(performance.now() - started >= 290, 'spaced by the interval');
  });

  test('a store that fails makes a lookup answer from the table it has', async () => {
    const routes = new PeerRoutes({
      store: { query: () => Promise.reject(new Error('gone')) } as never,
      nodeId: 'n1',
      logger,
    });
    assert.equal(await routes.lookup('/x'), undefined);
  });
});
