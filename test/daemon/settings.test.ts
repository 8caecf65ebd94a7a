import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ErrorBody, PlatformSettings, StatusReport } from '../../src/api/index.js';
import { cli, http, login, withDaemon } from '../helpers/daemon.js';

describe('settings, system status and the admin UI', () => {
  const running = withDaemon();

  test('label and DNS name: shown, set through the CLI, read through the API', async () => {
    const { daemon } = running;
    const data = ['--data', daemon.data];
    const shown = await cli(['settings', 'show', '--json', ...data]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual(JSON.parse(shown.stdout), {
      label: '',
      dnsName: '',
      alarmUrl: '',
      alarmEmail: '',
      defaults: { alarmUrl: '', alarmEmail: '' },
    });

    const set = await cli([
      'settings',
      'set',
      '--label',
      'Office North',
      '--dns-name',
      'Apps.Example.com',
      ...data,
    ]);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /^label\s+Office North$/m);
    assert.match(set.stdout, /^dns name\s+apps\.example\.com$/m);

    const token = await login(daemon, daemon.password!);
    const read = await http('GET', { url: daemon.adminUrl }, '/manager/api/v1/settings', { token });
    assert.deepEqual(read.body, {
      label: 'Office North',
      dnsName: 'apps.example.com',
      alarmUrl: '',
      alarmEmail: '',
      defaults: { alarmUrl: '', alarmEmail: '' },
    });

    const bad = await http('PATCH', { url: daemon.adminUrl }, '/manager/api/v1/settings', {
      token,
      body: { label: 'fine', dnsName: 'https://example.com' },
    });
    assert.equal(bad.status, 400);
    assert.equal((bad.body as ErrorBody).code, 'SETTING_INVALID');
    assert.equal((bad.body as ErrorBody).field, 'dnsName');
    // Nothing of a refused change is stored.
    const after = await cli(['settings', 'show', '--json', ...data]);
    assert.equal((JSON.parse(after.stdout) as PlatformSettings).label, 'Office North');

    const usage = await cli(['settings', 'set', ...data]);
    assert.equal(usage.code, 2);
    const long = await cli(['settings', 'set', '--label', 'x'.repeat(65), ...data]);
    assert.equal(long.code, 1);
    assert.match(long.stderr, /^error SETTING_INVALID: /);
  });

  test('status tells CPU, memory, load and the disk of the data folder', async () => {
    const { daemon } = running;
    const json = await cli(['status', '--json', '--data', daemon.data]);
    assert.equal(json.code, 0, json.stderr);
    const { system } = JSON.parse(json.stdout) as StatusReport;
    assert.ok(system.cpu.percent >= 0 && system.cpu.percent <= 100);
    assert.ok(system.cpu.cores >= 1);
    assert.ok(system.memory.totalBytes > system.memory.availableBytes);
    assert.equal(system.disk.path, daemon.data);
    assert.ok(system.disk.freeBytes > 0 && system.disk.freeBytes < system.disk.totalBytes);
    assert.equal(system.load.length, 3);
    const human = await cli(['status', '--data', daemon.data]);
    assert.match(
      human.stdout,
      /^system\s+cpu [\d.]+% of \d+ cores, load .*, memory .* used, disk .* free of .*$/m,
    );
  });

  test('/manager/ serves the built UI, its pages too; unknown API routes stay JSON', async () => {
    const { daemon } = running;
    const index = await http('GET', { url: daemon.adminUrl }, '/manager/');
    assert.equal(index.status, 200);
    assert.match(index.text, /<div id="root"><\/div>/);
    assert.equal(index.headers['cache-control'], 'no-cache');
    const script = /src="(\/manager\/assets\/[^"]+\.js)"/.exec(index.text)?.[1];
    assert.ok(script, index.text);
    const asset = await http('GET', { url: daemon.adminUrl }, script);
    assert.equal(asset.status, 200);
    assert.match(String(asset.headers['cache-control']), /immutable/);
    const page = await http('GET', { url: daemon.adminUrl }, '/manager/instances');
    assert.equal(page.status, 200);
    assert.equal(page.text, index.text);
    const api = await http('GET', { url: daemon.adminUrl }, '/manager/api/v1/nothing-here');
    assert.equal(api.status, 404);
    assert.equal((api.body as ErrorBody).code, 'NOT_FOUND');
    const bare = await http('GET', { url: daemon.adminUrl }, '/manager');
    assert.equal(bare.status, 302);
    assert.equal(bare.headers.location, '/manager/');
  });
});
