/** The admission of a node to a store, rule by rule (src/core/nodes/admission.ts). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  admit,
  type Candidate,
  type RegisteredNode,
  type StoreSide,
} from '../../src/core/nodes/index.js';

const me: Candidate = { id: 'n1', clusterName: 'lab', host: 'h1', dataDir: '/srv/a' };
const other = (state: RegisteredNode['state']): RegisteredNode => ({
  id: 'n2',
  host: 'h2',
  dataDir: '/srv/b',
  state,
});
const store = (side: Partial<StoreSide>): StoreSide => ({
  platform: { clusterName: 'lab', keyOpens: true },
  self: null,
  others: [],
  ...side,
});
const refusal = (candidate: Candidate, side: StoreSide) => {
  try {
    admit(candidate, side);
  } catch (error) {
    return error as { code: string; message: string };
  }
  return undefined;
};

describe('admission of a node', () => {
  test('a new store admits any node and takes its name', () => {
    assert.deepEqual(admit(me, store({ platform: null })), { clusterName: 'lab' });
    assert.deepEqual(admit({ ...me, clusterName: null }, store({ platform: null })), {
      clusterName: null,
    });
  });

  test('another key is refused first, whatever else holds', () => {
    const side = store({
      platform: { clusterName: 'lab', keyOpens: false },
      others: [other('up')],
    });
    assert.equal(refusal({ ...me, clusterName: 'x' }, side)?.code, 'CLUSTER_KEY_MISMATCH');
  });

  test('this node id up from another folder or host is refused; the same folder comes back', () => {
    const self = { id: 'n1', host: 'h1', dataDir: '/srv/a', state: 'up' as const };
    assert.equal(refusal(me, store({ self: { ...self, host: 'h9' } }))?.code, 'NODE_ID_IN_USE');
    assert.equal(
      refusal(me, store({ self: { ...self, dataDir: '/srv/copy' } }))?.code,
      'NODE_ID_IN_USE',
    );
    assert.deepEqual(admit(me, store({ self })), { clusterName: 'lab' });
    // Down or stopped: the node moved (a restored data folder on a new machine).
    assert.deepEqual(admit(me, store({ self: { ...self, host: 'h9', state: 'down' } })), {
      clusterName: 'lab',
    });
  });

  test('with other nodes, in any state, the cluster must be named and named right', () => {
    for (const state of ['up', 'down', 'stopped'] as const) {
      const side = store({ others: [other(state)] });
      assert.equal(refusal({ ...me, clusterName: null }, side)?.code, 'CLUSTER_MISMATCH');
      assert.equal(refusal({ ...me, clusterName: 'x' }, side)?.code, 'CLUSTER_MISMATCH');
      assert.deepEqual(admit(me, side), { clusterName: 'lab' });
    }
    const single = store({
      platform: { clusterName: null, keyOpens: true },
      others: [other('up')],
    });
    const named = refusal(me, single);
    assert.equal(named?.code, 'CLUSTER_MISMATCH');
    assert.match(named.message, /start it with --set cluster\.name=lab first/);
    assert.match(refusal({ ...me, clusterName: null }, single)!.message, /another manager uses/);
  });

  test('alone on the store, a node renames the platform (a single node becomes a cluster)', () => {
    const single = store({ platform: { clusterName: null, keyOpens: true } });
    assert.deepEqual(admit(me, single), { clusterName: 'lab' });
    assert.deepEqual(admit({ ...me, clusterName: null }, store({})), { clusterName: null });
  });
});
