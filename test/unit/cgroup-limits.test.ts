import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  cpuShares,
  detectCgroups,
  parseFlatKeyed,
  parseMountinfo,
  parseProcCgroup,
  Sandbox,
} from '../../src/core/supervisor/index.js';

/** A machine with cgroup v1 controllers and an empty v2 tree beside them (hybrid). */
const hybridCgroup = `9:name=systemd:/
8:pids:/
4:memory:/process_api/36f961bc
1:cpu:/
0::/
`;
const hybridMounts = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

/** A systemd machine with the unified hierarchy only. */
const unifiedCgroup = '0::/system.slice/appvisor.service\n';
const unifiedMounts =
  '30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n';

describe('cgroup detection', () => {
  test('/proc/self/cgroup: controllers and paths, the v2 line without controllers', () => {
    assert.deepEqual(parseProcCgroup(hybridCgroup), [
      { controllers: ['name=systemd'], path: '/' },
      { controllers: ['pids'], path: '/' },
      { controllers: ['memory'], path: '/process_api/36f961bc' },
      { controllers: ['cpu'], path: '/' },
      { controllers: [], path: '/' },
    ]);
    assert.deepEqual(parseProcCgroup('2:cpu,cpuacct:/a b\n'), [
      { controllers: ['cpu', 'cpuacct'], path: '/a b' },
    ]);
  });

  test('mountinfo: the cgroup mounts with their roots, escapes undone', () => {
    const mounts = parseMountinfo(
      `${hybridMounts}50 31 0:40 /docker/abc /mnt/cg\\040x rw - cgroup cgroup rw,cpu,cpuacct\n`,
    );
    assert.equal(mounts.length, 6);
    assert.deepEqual(mounts.at(-1), {
      version: 1,
      mountPoint: '/mnt/cg x',
      root: '/docker/abc',
      controllers: ['cpu'],
    });
    assert.deepEqual(mounts.at(-2), {
      version: 2,
      mountPoint: '/sys/fs/cgroup/unified',
      root: '/',
      controllers: [],
    });
  });

  test('hybrid: v1, each controller in its own (nested) group; the empty v2 tree is ignored', () => {
    const asked: string[] = [];
    const layout = detectCgroups(hybridCgroup, hybridMounts, (dir) => {
      asked.push(dir);
      return ['hugetlb'];
    });
    assert.deepEqual(asked, ['/sys/fs/cgroup/unified']);
    assert.deepEqual(layout, {
      version: 1,
      dirs: {
        memory: '/sys/fs/cgroup/memory/process_api/36f961bc',
        cpu: '/sys/fs/cgroup/cpu',
        pids: '/sys/fs/cgroup/pids',
      },
    });
  });

  test('unified: v2 when its own group offers memory, cpu and pids', () => {
    const layout = detectCgroups(unifiedCgroup, unifiedMounts, () => [
      'cpuset',
      'cpu',
      'io',
      'memory',
      'pids',
    ]);
    assert.deepEqual(layout, {
      version: 2,
      dir: '/sys/fs/cgroup/system.slice/appvisor.service',
    });
    assert.equal(
      detectCgroups(unifiedCgroup, unifiedMounts, () => ['cpu', 'io']),
      undefined,
      'no memory controller: nothing to use',
    );
  });

  test('a container whose mount shows only its own part of the hierarchy', () => {
    const layout = detectCgroups(
      '0::/docker/abc/inner\n',
      '1 0 0:1 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n',
      () => ['memory', 'pids', 'cpu'],
    );
    assert.deepEqual(layout, { version: 2, dir: '/sys/fs/cgroup/inner' });
    assert.equal(
      detectCgroups(
        '0::/elsewhere\n',
        '1 0 0:1 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n',
        () => ['memory', 'pids', 'cpu'],
      ),
      undefined,
      'its group is not below the mount',
    );
  });

  test('no cgroups at all, or one controller missing', () => {
    assert.equal(
      detectCgroups('', '', () => undefined),
      undefined,
    );
    assert.equal(
      detectCgroups('4:memory:/\n1:cpu:/\n', hybridMounts, () => undefined),
      undefined,
    );
  });

  test('the fallback without cgroups: prlimit lowers RLIMIT_NPROC and RLIMIT_AS, said with the reason', () => {
    const rlimit = Sandbox.open({
      name: 'appvisor-test',
      isRoot: true,
      procCgroup: '',
      mountinfo: '',
      prlimit: '/usr/bin/prlimit',
    });
    assert.equal(rlimit.enforcement, 'rlimit');
    assert.match(rlimit.info().reason ?? '', /no cgroup/);
    const wrapped = rlimit.wrap(
      'x',
      { command: '/apps/x/run', args: ['a'], cwd: '/', env: {}, uid: 1000, gid: 1000 },
      { memoryMaxBytes: 1 << 30, cpuWeight: 100, pidsMax: 512 },
    );
    assert.equal(wrapped.command, '/usr/bin/prlimit');
    assert.deepEqual(wrapped.args, ['--nproc=512', `--as=${1 << 30}`, '--', '/apps/x/run', 'a']);
    assert.equal(wrapped.uid, 1000, 'prlimit runs as the app user and lowers its own limits');
  });

  test('numbers: v1 shares from v2 weights; flat keyed files', () => {
    assert.equal(cpuShares(100), 1024);
    assert.equal(cpuShares(1), 10);
    assert.equal(cpuShares(10000), 102400);
    assert.deepEqual(parseFlatKeyed('oom_kill_disable 0\nunder_oom 0\noom_kill 3\n'), {
      oom_kill_disable: 0,
      under_oom: 0,
      oom_kill: 3,
    });
    assert.equal(parseFlatKeyed('low 0\nhigh 2\nmax 9\noom 1\noom_kill 1\n').oom_kill, 1);
  });
});
