/** Where a new instance goes (src/core/nodes/placement.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { choosePlacement, type PlacementCandidate } from '../../src/core/nodes/index.js';

const node = (id: string, instances: number, more: Partial<PlacementCandidate> = {}) => ({
  id,
  host: `10.0.0.${id.length}`,
  port: 8080,
  up: true,
  instances,
  capacity: 10,
  hasApp: true,
  ...more,
});
const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return (error as { code: string }).code;
  }
  return 'none';
};

test('the fewest instances win; on a tie the node asked, then the lowest id', () => {
  const nodes = [node('b', 2), node('c', 1), node('a', 1)];
  assert.equal(choosePlacement(nodes, 'echo', 'b').node, 'a');
  assert.equal(choosePlacement(nodes, 'echo', 'c').node, 'c');
  assert.equal(choosePlacement(nodes, 'echo', 'c').self, true);
});

test('nodes that are down, full or without the app are passed over', () => {
  const nodes = [
    node('a', 0, { up: false }),
    node('b', 0, { hasApp: false }),
    node('c', 10),
    node('d', 9),
  ];
  assert.equal(choosePlacement(nodes, 'echo', 'a').node, 'd');
  assert.equal(
    codeOf(() => choosePlacement([node('c', 10)], 'echo', 'c')),
    'NODE_FULL',
  );
  assert.equal(
    codeOf(() => choosePlacement([node('a', 0, { hasApp: false })], 'echo', 'a')),
    'APP_NOT_FOUND',
  );
  assert.equal(
    codeOf(() => choosePlacement([node('a', 0, { capacity: 0 })], 'echo', 'a')),
    'NODE_FULL',
  );
});

test('a pinned node must be registered, up, have the app and room', () => {
  const nodes = [
    node('a', 5),
    node('b', 0, { up: false }),
    node('c', 0, { hasApp: false }),
    node('d', 10),
  ];
  assert.equal(choosePlacement(nodes, 'echo', 'z', 'a').node, 'a');
  assert.equal(
    codeOf(() => choosePlacement(nodes, 'echo', 'a', 'x')),
    'NODE_NOT_FOUND',
  );
  assert.equal(
    codeOf(() => choosePlacement(nodes, 'echo', 'a', 'b')),
    'NODE_UNREACHABLE',
  );
  assert.equal(
    codeOf(() => choosePlacement(nodes, 'echo', 'a', 'c')),
    'APP_NOT_FOUND',
  );
  assert.equal(
    codeOf(() => choosePlacement(nodes, 'echo', 'a', 'd')),
    'NODE_FULL',
  );
});
