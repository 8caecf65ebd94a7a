/**
 * One front for the platform (docs/cluster.md, "One front"): three nodes on one PostgreSQL,
 * instances on node C, reached through the fronts of A and B over HTTP, HTTPS and WebSockets
 * with the AppWebsocket login; the visitor's address and scheme reach the app, a visitor cannot
 * pose as a node, and an instance whose node is gone is answered 503, not 404.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { peerSecret } from '../../src/core/front/index.js';
import { PeerCallSigner, peerApiPrefix } from '../../src/core/nodes/index.js';
import { connectAppWebsocket } from '../../src/sdk/testing/index.js';
import {
  cliOk,
  echoWithInstance,
  eventually,
  http,
  killAll,
  nodeServiceWithInstance,
  passwordOf,
  type Daemon,
} from '../helpers/daemon.js';
import { TestCluster } from '../helpers/cluster.js';

/** A service answering with the headers that reached it. */
const headerService = `import(process.env.APPVISOR_SDK).then(({ createService }) => createService({
  start() {
    return {
      http(request, response) {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ headers: request.headers }));
      },
    };
  },
}));
`;

/** A GET with headers of the test's choosing, over HTTP or HTTPS (self-signed). */
function get(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = (url.startsWith('https:') ? httpsRequest : httpRequest)(
      url,
      { headers, rejectUnauthorized: false },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => {
          resolve({ status: response.statusCode ?? 0, text });
        });
      },
    );
    request.on('error', reject);
    request.end();
  });
}

describe('one front: any node serves the instances of every node', () => {
  let cluster: TestCluster;
  const nodes: Partial<Record<'a' | 'b' | 'c', Daemon>> = {};
  let secret = '';

  const node = (name: 'a' | 'b' | 'c') => nodes[name]!;
  /** The headers the service of instance `hdrs` saw for a request to `url`. */
  const seenAt = async (url: string, headers: Record<string, string> = {}) => {
    const answer = await get(`${url}/hdrs/`, headers);
    assert.equal(answer.status, 200, answer.text);
    return (JSON.parse(answer.text) as { headers: Record<string, string> }).headers;
  };

  before(async () => {
    cluster = await TestCluster.create();
    // A and B take no instances (capacity 0): what C owns stays C's, even when C is lost.
    nodes.a = await cluster.start('a', ['--set', 'cluster.capacity=0']);
    for (const name of ['b', 'c'] as const) await cluster.prepare(name, nodes.a);
    nodes.b = await cluster.start('b', ['--set', 'cluster.capacity=0']);
    nodes.c = await cluster.start('c');
    const key = await readFile(join(node('a').data, 'secret.key'), 'utf8');
    secret = peerSecret(Buffer.from(key.trim(), 'base64'));
    await echoWithInstance(node('c'), 'alpha');
    await nodeServiceWithInstance(node('c'), 'hdrs', headerService, { id: 'hdrs', path: '/hdrs' });
  });

  after(async () => {
    await cluster.destroy();
  });

  test('an instance made on C answers through A and B at once, one database behind', async () => {
    const viaA = await http('POST', { url: node('a').httpUrl }, '/example.com/alpha/count');
    assert.equal(viaA.status, 200, viaA.text);
    assert.deepEqual(viaA.body, { instance: 'alpha', count: 1 });
    const viaB = await http('POST', { url: node('b').httpsUrl }, '/example.com/alpha/count');
    assert.deepEqual(viaB.body, { instance: 'alpha', count: 2 });
    const onC = await http('GET', { url: node('c').httpUrl }, '/example.com/alpha/count');
    assert.deepEqual(onC.body, { instance: 'alpha', count: 2 });
    const nothing = await http('GET', { url: node('a').httpUrl }, '/example.com/nobody/');
    assert.equal(nothing.status, 404);
  });

  test("the app sees the visitor's address, scheme and host, and no node's secret", async () => {
    const a = node('a');
    const headers = await seenAt(a.httpsUrl, { 'x-forwarded-for': '10.9.9.9' });
    assert.equal(headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(headers['x-forwarded-proto'], 'https');
    assert.equal(headers['x-forwarded-host'], new URL(a.httpsUrl).host);
    assert.equal(headers.host, new URL(a.httpsUrl).host);
    assert.equal(headers['x-appvisor-instance'], 'hdrs');
    assert.equal(headers['x-appvisor-peer'], undefined, 'the peer secret stays between nodes');
    const plain = await seenAt(a.httpUrl);
    assert.equal(plain['x-forwarded-proto'], 'http');
  });

  test('a visitor cannot pose as a node; a node is believed, and never forwards twice', async () => {
    const c = node('c');
    const posing = await seenAt(c.httpUrl, {
      'x-appvisor-peer': 'f'.repeat(64),
      'x-forwarded-for': '10.1.2.3',
      'x-forwarded-proto': 'https',
    });
    assert.equal(posing['x-forwarded-for'], '127.0.0.1');
    assert.equal(posing['x-forwarded-proto'], 'http');
    // With the platform's secret (as node A sends it), C believes the visitor's address.
    const forwarded = await seenAt(c.httpUrl, {
      'x-appvisor-peer': secret,
      'x-forwarded-for': '10.1.2.3',
      'x-forwarded-proto': 'https',
    });
    assert.equal(forwarded['x-forwarded-for'], '10.1.2.3');
    assert.equal(forwarded['x-forwarded-proto'], 'https');
    // A request a node forwarded that finds the instance elsewhere is not sent on again.
    const again = await get(`${node('a').httpUrl}/hdrs/`, { 'x-appvisor-peer': secret });
    assert.equal(again.status, 503, again.text);
    assert.match(again.text, /not on this node/);
  });

  test("only a signed call of a node reaches a node's API through its front, and only once", async () => {
    const key = await readFile(join(node('a').data, 'secret.key'), 'utf8');
    const signer = new PeerCallSigner(Buffer.from(key.trim(), 'base64'));
    const path = `${peerApiPrefix}/instances?local=true`;
    const url = `${node('c').httpUrl}${path}`;
    const header = signer.sign('GET', path);
    const signed = await get(url, { 'x-appvisor-peer-call': header });
    assert.equal(signed.status, 200, signed.text);
    assert.deepEqual(
      (JSON.parse(signed.text) as { instances: { id: string }[] }).instances.map((i) => i.id),
      ['alpha', 'hdrs'],
    );
    const replayed = await get(url, { 'x-appvisor-peer-call': header });
    assert.equal(replayed.status, 404, 'a call played again is refused');
    for (const forged of [
      undefined,
      signer.sign('GET', `${peerApiPrefix}/instances`),
      `${Date.now()}.${'0'.repeat(32)}.${'0'.repeat(64)}`,
      secret,
    ]) {
      const answer = await get(url, forged === undefined ? {} : { 'x-appvisor-peer-call': forged });
      assert.equal(answer.status, 404, String(forged));
    }
    // Another platform's key signs nothing this one takes.
    const stranger = new PeerCallSigner(Buffer.alloc(32, 1));
    const foreign = await get(url, { 'x-appvisor-peer-call': stranger.sign('GET', path) });
    assert.equal(foreign.status, 404);
  });

  test('an AppWebsocket login through A and B reaches the instance on C', async () => {
    const password = await passwordOf(node('c'), 'alpha');
    for (const url of [
      `${node('a').httpUrl.replace(/^http/, 'ws')}/example.com/alpha/`,
      `${node('b').httpsUrl.replace(/^https/, 'wss')}/example.com/alpha/`,
    ]) {
      const client = await connectAppWebsocket(url);
      const result = await client.login(password, { info: { cn: 'Alice' } });
      assert.equal(result.ok, true, url);
      assert.equal(result.domain, 'example.com');
      client.send({ mt: 'Echo', text: url, src: 'e' });
      assert.deepEqual(await client.next(), { mt: 'EchoResult', text: url, src: 'e' });
      client.ws.close();
    }
  });

  test("an instance page opened from any node's UI logs in through any node's front", async () => {
    const api = (daemon: Daemon, path: string, body?: unknown) =>
      http('POST', { socket: daemon.socket }, `/manager/api/v1${path}`, { body });
    // The admin opens alpha (on C) from A's UI: C issues the grant, which names C.
    const opened = await api(node('a'), '/instances/alpha/open');
    assert.equal(opened.status, 200, opened.text);
    const { token } = opened.body as { token: string };
    const cId = (JSON.parse(await cliOk(node('c'), 'node', '--json')) as { self: string }).self;
    assert.ok(token.endsWith(`.${cId}`));
    const expected = (await api(node('c'), '/instances/alpha/login', { challenge: 'abc123' }))
      .body as { login: { digest: string } };
    // The page may be served by any node: each one's front trades the grant on C.
    for (const url of [node('b').httpUrl, node('a').httpsUrl, node('c').httpUrl]) {
      const login = await http('POST', { url }, '/.appvisor/login', {
        body: { token, challenge: 'abc123' },
      });
      assert.equal(login.status, 200, `${url}: ${login.text}`);
      assert.deepEqual(login.body, expected);
    }
    // A grant no node issued is refused, whichever node it names.
    const aId = (JSON.parse(await cliOk(node('a'), 'node', '--json')) as { self: string }).self;
    for (const forged of [
      `${'x'.repeat(43)}.${aId}`,
      `${'x'.repeat(43)}.${cId}`,
      `${token}x`,
      'x.no-node',
    ]) {
      const refused = await http('POST', { url: node('b').httpUrl }, '/.appvisor/login', {
        body: { token: forged, challenge: 'abc123' },
      });
      assert.equal(refused.status, 401, `${forged}: ${refused.text}`);
      assert.match(refused.text, /UNAUTHORIZED/);
    }
  });

  test('when C is gone and no node can take its instances, they are answered 503 with Retry-After', async () => {
    const c = node('c');
    c.child.kill('SIGKILL');
    await c.exited;
    await killAll(c.data);
    const answer = await eventually(
      async () => {
        const got = await http('GET', { url: node('a').httpUrl }, '/example.com/alpha/count');
        return got.status === 503 ? got : undefined;
      },
      10_000,
      '503 for the instance of a node that is gone',
    );
    assert.equal(answer.headers['retry-after'], '2');
    assert.equal((answer.body as { code: string }).code, 'INSTANCE_UNAVAILABLE');
    // Once its lease ran out, the answer says why.
    await eventually(
      async () => {
        const got = await http('GET', { url: node('b').httpUrl }, '/example.com/alpha/count');
        return /is not up/.test(got.text) ? true : undefined;
      },
      15_000,
      'the answer naming the node down',
    );
    // Whichever of A and B judged C lost says why its instances stay.
    const stranded =
      /node\.stranded .*alpha \(every node that is up and has app echo owns as many instances as its capacity\)/;
    await eventually(
      async () => {
        const judged =
          (await cliOk(node('a'), 'events', '-n', '100')) +
          (await cliOk(node('b'), 'events', '-n', '100'));
        return stranded.test(judged) ? true : undefined;
      },
      10_000,
      'the node.stranded event',
    );
  });
});
