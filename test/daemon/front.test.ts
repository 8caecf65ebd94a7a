import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import WebSocket from 'ws';
import type { AppStatus, InstanceView } from '../../src/api/index.js';
import { cli, eventually, http, repoRoot, withDaemon, type Daemon } from '../helpers/daemon.js';

async function ready(daemon: Daemon, id: string): Promise<void> {
  await eventually(
    async () => {
      const view = (await http('GET', { socket: daemon.socket }, `/manager/api/v1/instances/${id}`))
        .body as InstanceView;
      return view.state === 'ready' ? true : undefined;
    },
    30_000,
    `${id} ready`,
  );
}

function echoOnce(url: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { rejectUnauthorized: false });
    socket.once('open', () => {
      socket.send(text);
    });
    socket.once('message', (data: Buffer) => {
      resolve(data.toString());
      socket.close();
    });
    socket.once('error', reject);
    socket.once('unexpected-response', (_request, response) => {
      reject(new Error(`HTTP ${response.statusCode ?? 0}`));
    });
  });
}

describe('the front routes instance paths to their service', () => {
  const running = withDaemon();

  before(async () => {
    const { daemon } = running;
    assert.equal(
      (
        await cli([
          'app',
          'install',
          join(repoRoot, 'examples', 'echo'),
          '--autostart',
          '--data',
          daemon.data,
        ])
      ).code,
      0,
    );
    await eventually(
      async () => {
        const app = (await http('GET', { socket: daemon.socket }, '/manager/api/v1/apps/echo'))
          .body as AppStatus;
        return app.state === 'running' ? true : undefined;
      },
      30_000,
      'echo running',
    );
    assert.equal(
      (
        await cli([
          'instance',
          'create',
          'echo',
          'acme',
          '--domain',
          'example.com',
          '--data',
          daemon.data,
        ])
      ).code,
      0,
    );
    await ready(daemon, 'acme');
  });

  test('HTTP and HTTPS requests reach the instance by its path; other paths get 404', async () => {
    const { daemon } = running;
    for (const url of [daemon.httpUrl, daemon.httpsUrl]) {
      const page = await http('GET', { url }, '/example.com/acme/');
      assert.equal(page.status, 200, page.text);
      assert.match(page.text, /acme/);
      const counted = await http('POST', { url }, '/example.com/acme/count');
      assert.equal(counted.status, 200, counted.text);
      assert.equal((counted.body as { instance: string }).instance, 'acme');
    }
    assert.equal(
      (await http('GET', { url: daemon.httpUrl }, '/example.com/acmeX/count')).status,
      404,
    );
    assert.equal(
      (await http('GET', { url: daemon.httpUrl }, '/EXAMPLE.com/acme/count')).status,
      404,
      'paths are case-sensitive',
    );
  });

  test('WebSocket connections reach the instance over HTTP and HTTPS', async () => {
    const { daemon } = running;
    for (const base of [daemon.httpUrl, daemon.httpsUrl]) {
      const url = `${base.replace(/^http/, 'ws')}/example.com/acme/socket`;
      assert.equal(await echoOnce(url, `hello über ${base}`), `hello über ${base}`);
    }
  });

  test('a path change moves the route at once', async () => {
    const { daemon } = running;
    assert.equal(
      (await cli(['instance', 'set', 'acme', '--path', '/moved/acme', '--data', daemon.data])).code,
      0,
    );
    assert.equal((await http('GET', { url: daemon.httpUrl }, '/moved/acme/count')).status, 200);
    assert.equal(
      (await http('GET', { url: daemon.httpUrl }, '/example.com/acme/count')).status,
      404,
    );
  });

  test('an instance whose service is down answers 503 with Retry-After, not a hang', async () => {
    const { daemon } = running;
    assert.equal((await cli(['app', 'stop', 'echo', '--data', daemon.data])).code, 0);
    const answer = await http('GET', { url: daemon.httpUrl }, '/moved/acme/count');
    assert.equal(answer.status, 503);
    assert.ok(Number(answer.headers['retry-after']) > 0);
    assert.equal((answer.body as { code: string }).code, 'INSTANCE_UNAVAILABLE');
    await assert.rejects(
      echoOnce(`${daemon.httpUrl.replace(/^http/, 'ws')}/moved/acme/`, 'x'),
      /503/,
    );
    assert.equal((await cli(['app', 'start', 'echo', '--data', daemon.data])).code, 0);
    await ready(daemon, 'acme');
    assert.equal((await http('GET', { url: daemon.httpUrl }, '/moved/acme/count')).status, 200);
  });
});
