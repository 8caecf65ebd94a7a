import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { serveUi } from '../../src/api/ui.js';
import { makeTemp, removeTemp } from '../helpers/daemon.js';

async function serve(dir: string): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    const rest = (request.url ?? '/').split('?')[0]!.slice('/manager'.length);
    void serveUi(request, response, dir, rest);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('the admin UI files', () => {
  let root: string;
  let built: { server: Server; url: string };
  let missing: { server: Server; url: string };

  before(async () => {
    root = await makeTemp();
    const ui = join(root, 'ui');
    await mkdir(join(ui, 'assets'), { recursive: true });
    await writeFile(join(ui, 'index.html'), '<!doctype html><title>ui</title>');
    await writeFile(join(ui, 'assets', 'index-abc123.js'), 'console.log(1)');
    built = await serve(ui);
    missing = await serve(join(root, 'not-built'));
  });
  after(async () => {
    built.server.close();
    missing.server.close();
    await removeTemp(root);
  });

  test('index.html is revalidated on every load; hashed assets are kept for a year', async () => {
    const index = await fetch(`${built.url}/manager/`);
    assert.equal(index.status, 200);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    assert.match(index.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    assert.match(await index.text(), /<title>ui<\/title>/);
    const asset = await fetch(`${built.url}/manager/assets/index-abc123.js`);
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get('content-type') ?? '', /javascript/);
    assert.match(asset.headers.get('cache-control') ?? '', /max-age=31536000, immutable/);
  });

  test("a page of the UI gets index.html; a missing file is a 404, not the UI's page", async () => {
    const page = await fetch(`${built.url}/manager/apps/echo`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>ui<\/title>/);
    const gone = await fetch(`${built.url}/manager/assets/index-old.js`);
    assert.equal(gone.status, 404);
    assert.equal(((await gone.json()) as { code: string }).code, 'NOT_FOUND');
  });

  test('without a build, a page says to run npm run build', async () => {
    const answer = await fetch(`${missing.url}/manager/`);
    assert.equal(answer.status, 503);
    assert.match(answer.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await answer.text(), /not built[\s\S]*npm run build/);
  });
});
