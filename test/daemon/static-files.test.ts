import assert from 'node:assert/strict';
import { rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { makeAppFolder } from '../helpers/apps.js';
import { cli, http, makeTemp, withDaemon, waitForApp, waitForInstance } from '../helpers/daemon.js';

const service = `process.on('message', (m) => {
  if (m.type === 'instance.start') process.send({ type: 'instance.ready', id: m.instance.id });
  if (m.type === 'instance.stop') process.send({ type: 'instance.stopped', id: m.id });
});
process.send({ type: 'ready', httpSocket: null });
`;

describe("the front serves a package's web.static files", () => {
  const running = withDaemon();
  const big = 'x'.repeat(100_000);

  before(async () => {
    const { daemon } = running;
    const work = await makeTemp();
    const folder = await makeAppFolder(work, 'site', {
      run: 'exec "$APPVISOR_NODE" "$APPVISOR_APP_DIR/main.cjs"',
      manifest: { instances: true, web: { static: 'public' } },
      files: {
        'main.cjs': service,
        'secret.txt': 'not for the web',
        'public/index.html': '<h1>site</h1>',
        'public/css/style.css': 'body { color: red }',
        'public/big.txt': big,
      },
    });
    await symlink('../secret.txt', join(folder, 'public', 'leak.txt'));
    assert.equal(
      (await cli(['app', 'install', folder, '--autostart', '--data', daemon.data])).code,
      0,
    );
    await waitForApp(daemon, 'site');
    assert.equal(
      (await cli(['instance', 'create', 'site', 'www', '--path', '/www', '--data', daemon.data]))
        .code,
      0,
    );
    await waitForInstance(daemon, 'www');
  });

  test('files with their content type, index.html for the folder itself', async () => {
    const { daemon } = running;
    const css = await http('GET', { url: daemon.httpUrl }, '/www/css/style.css');
    assert.equal(css.status, 200);
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    assert.equal(css.text, 'body { color: red }');
    const index = await http('GET', { url: daemon.httpsUrl }, '/www/');
    assert.equal(index.status, 200);
    assert.equal(index.text, '<h1>site</h1>');
  });

  test('the folder without its trailing slash redirects to it, query kept, never off-site', async () => {
    const { daemon } = running;
    for (const [path, location] of [
      ['/www', '/www/'],
      ['/www?lang=de&x=%2F', '/www/?lang=de&x=%2F'],
      // The router skips empty segments: these reach the instance too, but the redirect names
      // the instance's own path, never the request's spelling (`//www/` is another host).
      ['//www', '/www/'],
      ['//www?next=//evil.com', '/www/?next=//evil.com'],
    ] as const) {
      const answer = await rawGet(daemon.httpUrl, path, {});
      assert.equal(answer.status, 301, path);
      assert.equal(answer.headers.location, location, path);
    }
    // With the slash, the page; its relative links now resolve below the instance.
    const index = await rawGet(daemon.httpUrl, '/www/', {});
    assert.equal(index.status, 200);
    assert.equal(index.text, '<h1>site</h1>');
    const css = await rawGet(daemon.httpUrl, '//www//css/style.css', {});
    assert.equal(css.text, 'body { color: red }');
  });

  test('ETag revalidation answers 304; a Range answers 206 with just those bytes', async () => {
    const { daemon } = running;
    const first = await http('GET', { url: daemon.httpUrl }, '/www/big.txt');
    assert.equal(first.text.length, big.length);
    const etag = String(first.headers.etag);
    const again = await rawGet(daemon.httpUrl, '/www/big.txt', { 'if-none-match': etag });
    assert.equal(again.status, 304);
    const part = await rawGet(daemon.httpUrl, '/www/big.txt', { range: 'bytes=10-19' });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 10-19/${big.length}`);
    assert.equal(part.text, 'x'.repeat(10));
    const beyond = await rawGet(daemon.httpUrl, '/www/big.txt', {
      range: `bytes=${big.length + 5}-`,
    });
    assert.equal(beyond.status, 416);
  });

  test('a small file (kept in memory) answers a Range, and a replaced one its new content', async () => {
    const { daemon } = running;
    const style = '/www/css/style.css';
    assert.equal((await http('GET', { url: daemon.httpUrl }, style)).text, 'body { color: red }');
    const part = await rawGet(daemon.httpUrl, style, { range: 'bytes=7-11' });
    assert.equal(part.status, 206);
    assert.equal(part.text, 'color');
    // Replaced as an upgrade replaces files: a new file renamed over the old one, same size.
    const file = join(daemon.data, 'apps', 'site', 'public', 'css', 'style.css');
    await writeFile(`${file}.new`, 'body { color: blue}');
    await rename(`${file}.new`, file);
    const after = await http('GET', { url: daemon.httpUrl }, style);
    assert.equal(after.status, 200);
    assert.equal(after.text, 'body { color: blue}');
  });

  test('no traversal, no link out of the folder, no listing', async () => {
    const { daemon } = running;
    for (const path of [
      '/www/../secret.txt',
      '/www/%2e%2e/secret.txt',
      '/www/..%2fsecret.txt',
      '/www/leak.txt',
      '/www/css/',
    ]) {
      const answer = await rawGet(daemon.httpUrl, path, {});
      assert.notEqual(answer.status, 200, path);
      assert.ok(!answer.text.includes('not for the web'), path);
      assert.ok(!answer.text.includes('style.css'), `${path}: no listing`);
    }
  });
});

/** A GET with extra headers, exactly the path given (no URL normalization). */
async function rawGet(base: string, path: string, headers: Record<string, string>) {
  const { request } = await import('node:http');
  const url = new URL(base);
  return new Promise<{ status: number; headers: Record<string, unknown>; text: string }>(
    (resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path, headers }, (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => {
          resolve({ status: response.statusCode ?? 0, headers: response.headers, text });
        });
      });
      req.once('error', reject);
      req.end();
    },
  );
}
