/**
 * The platform's instances on a cluster for the configuration file (src/core/nodes/
 * cluster-instances.ts), without nodes: the merged list and its refusal when a node is
 * missing, a peer's answer as a value or its own error, and each call sent to the owner.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AppvisorError } from '../../src/core/errors/index.js';
import type { InstanceView } from '../../src/core/instances/index.js';
import {
  ClusterInstances,
  isPinRefusal,
  mergeListings,
  peerResult,
  type ClusterInstancesOptions,
  type PeerAnswer,
  type Placement,
} from '../../src/core/nodes/index.js';
import { fakeInstanceView } from './core-fakes.js';

function view(id: string, node?: string): InstanceView {
  return fakeInstanceView({ id, app: 'echo', ...(node === undefined ? {} : { node }) });
}

const at = (node: string, self = false): Placement => ({ node, host: '127.0.0.1', port: 1, self });

describe('merging the nodes’ lists', () => {
  test('one list by id, each view with its node; a repeated instance once', () => {
    const merged = mergeListings([
      { node: 'n1', views: [view('b'), view('a')] },
      { node: 'n2', views: [view('c', 'n2'), view('a', 'n2')] },
      { node: 'n3', views: [] },
    ]);
    assert.deepEqual(
      merged.map((v) => [v.id, v.node]),
      [
        ['a', 'n1'],
        ['b', 'n1'],
        ['c', 'n2'],
      ],
    );
  });

  test('a node whose instances cannot be read fails the list, named with why', () => {
    assert.throws(
      () =>
        mergeListings([
          { node: 'n1', views: [view('a')] },
          { node: 'n2', missing: 'not up, owns 2 instances' },
          { node: 'n3', missing: 'does not answer' },
        ]),
      (error: AppvisorError) =>
        error.code === 'NODE_UNREACHABLE' &&
        error.message.includes('node n2 (not up, owns 2 instances), node n3 (does not answer)'),
    );
  });
});

describe("a peer's answer", () => {
  test('a 2xx answer is its body; an error is the error the owner said', () => {
    assert.deepEqual(peerResult('n2', { status: 201, body: { id: 'x' } }), { id: 'x' });
    assert.throws(
      () =>
        peerResult('n2', {
          status: 409,
          body: { code: 'PATH_TAKEN', message: 'taken', field: 'path' },
        }),
      (error: AppvisorError) =>
        error.code === 'PATH_TAKEN' && error.message === 'taken' && error.field === 'path',
    );
    assert.throws(
      () => peerResult('n2', { status: 418, body: { code: 'NEWER_CODE', message: 'hm' } }),
      (error: AppvisorError) =>
        error.code === 'INTERNAL' && error.message === 'node n2 answered NEWER_CODE: hm',
    );
  });

  test('only placement refusing a node is a reason to choose another', () => {
    for (const code of [
      'NODE_NOT_FOUND',
      'NODE_UNREACHABLE',
      'NODE_FULL',
      'APP_NOT_FOUND',
    ] as const)
      assert.ok(isPinRefusal(new AppvisorError(code)));
    assert.ok(!isPinRefusal(new AppvisorError('DATABASE_UNAVAILABLE')));
    assert.ok(!isPinRefusal(new Error('NODE_FULL')));
  });
});

/** A cluster of n1 (this node), n2 (up) and n3 (not up); `owners` says who owns what. */
function fakeCluster(owners: Record<string, string>, n3Instances = 0) {
  const calls: string[] = [];
  const local: string[] = [];
  const answers = new Map<string, PeerAnswer>();
  const cluster: ClusterInstancesOptions['cluster'] = {
    self: 'n1',
    // As the membership reports them (whatever else it says of each node).
    peers: () =>
      Promise.resolve([
        { ...at('n2'), up: true, instances: 1 },
        { ...at('n3'), up: false, instances: n3Instances },
      ] as Awaited<ReturnType<ClusterInstancesOptions['cluster']['peers']>>),
    ownerOf: (id) => {
      const node = owners[id];
      if (node === undefined) return Promise.resolve(undefined);
      return Promise.resolve({ ...at(node, node === 'n1'), up: node !== 'n3', app: 'echo' });
    },
    placement: (_app, pinned) => {
      if (pinned === undefined) return Promise.resolve(at('n2'));
      if (pinned === 'n1' || pinned === 'n2') return Promise.resolve(at(pinned, pinned === 'n1'));
      if (pinned === 'n3')
        return Promise.reject(new AppvisorError('NODE_UNREACHABLE', 'n3 is not up'));
      return Promise.reject(new AppvisorError('NODE_NOT_FOUND', `no node ${pinned} is registered`));
    },
    call: (to, method, path, body) => {
      calls.push(
        `${to.node} ${method} ${path}${body === undefined ? '' : ` ${JSON.stringify(body)}`}`,
      );
      return Promise.resolve(
        answers.get(`${method} ${path}`) ?? { status: 200, body: view('remote', to.node) },
      );
    },
  };
  const instances: ClusterInstancesOptions['local'] = {
    list: () => [view('here')],
    show: (id) => {
      local.push(`show ${id}`);
      if (owners[id] !== 'n1') throw new AppvisorError('INSTANCE_NOT_FOUND');
      return view(id);
    },
    create: (_app, id) => {
      local.push(`create ${id}`);
      return Promise.resolve(view(id));
    },
    set: (id) => {
      local.push(`set ${id}`);
      return Promise.resolve(view(id));
    },
    trace: (id) => {
      local.push(`trace ${id}`);
      return Promise.resolve(view(id));
    },
    delete: (id) => {
      local.push(`delete ${id}`);
      return Promise.resolve();
    },
  };
  const facade = new ClusterInstances({ local: instances, cluster });
  return { facade, calls, local, answers };
}

describe('the instances of every node', () => {
  test("the list is this node's and each up node's; a node down with instances fails it", async () => {
    const { facade, calls, answers } = fakeCluster({});
    answers.set('GET /instances?local=true', {
      status: 200,
      body: { instances: [view('there', 'n2')] },
    });
    assert.deepEqual(
      (await facade.list()).map((v) => [v.id, v.node]),
      [
        ['here', 'n1'],
        ['there', 'n2'],
      ],
    );
    assert.deepEqual(calls, ['n2 GET /instances?local=true']);
    await assert.rejects(fakeCluster({}, 2).facade.list(), (error: AppvisorError) =>
      /node n3 \(not up, owns 2 instances\)/.test(error.message),
    );
    answers.set('GET /instances?local=true', {
      status: 503,
      body: { code: 'STARTING', message: 'the node API is not ready' },
    });
    await assert.rejects(
      facade.list(),
      (error: AppvisorError) =>
        error.code === 'NODE_UNREACHABLE' && /node n2 \(STARTING: the node API/.test(error.message),
    );
  });

  test('show, set, trace and delete go to the owner; an owner not up is NODE_UNREACHABLE', async () => {
    const { facade, calls, local } = fakeCluster({ mine: 'n1', theirs: 'n2', lost: 'n3' });
    assert.equal((await facade.show('mine')).node, 'n1');
    assert.equal((await facade.show('theirs', { reveal: true })).node, 'n2');
    await facade.set('theirs', { enabled: false });
    await facade.trace('theirs', ['+database']);
    await facade.delete('theirs');
    await facade.set('mine', { enabled: false });
    await facade.delete('mine');
    assert.deepEqual(calls, [
      'n2 GET /instances/theirs?reveal=true',
      'n2 PATCH /instances/theirs {"enabled":false}',
      'n2 POST /instances/theirs/trace {"changes":["+database"]}',
      'n2 DELETE /instances/theirs',
    ]);
    assert.deepEqual(local, ['show mine', 'set mine', 'delete mine']);
    await assert.rejects(
      facade.set('lost', { enabled: true }),
      (error: AppvisorError) => error.code === 'NODE_UNREACHABLE' && /node n3/.test(error.message),
    );
    // No node owns it: this node's service says so.
    await assert.rejects(
      facade.show('nowhere'),
      (error: AppvisorError) => error.code === 'INSTANCE_NOT_FOUND',
    );
  });

  test('a new instance goes to the node asked when it can take it, else where placement chooses', async () => {
    const { facade, calls, local } = fakeCluster({});
    await facade.create('echo', 'x', { domain: 'example.com' }, { node: 'n1' });
    await facade.create('echo', 'y', { path: '/y' }, { node: 'n3' });
    await facade.create('echo', 'z', {}, { node: 'elsewhere' });
    await facade.create('echo', 'w', {});
    assert.deepEqual(local, ['create x']);
    assert.deepEqual(calls, [
      'n2 POST /instances {"app":"echo","id":"y","path":"/y","node":"n2"}',
      'n2 POST /instances {"app":"echo","id":"z","node":"n2"}',
      'n2 POST /instances {"app":"echo","id":"w","node":"n2"}',
    ]);
    assert.deepEqual(await facade.pin('echo', 'n2'), { node: 'n2' });
    assert.deepEqual(await facade.pin('echo', 'elsewhere'), {
      refused: 'no node elsewhere is registered',
    });
  });
});
