import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import {
  connect as http2Connect,
  constants,
  type ClientHttp2Session,
  type IncomingHttpHeaders,
} from 'node:http2';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { makeAppFolder } from '../helpers/apps.js';
import {
  cli,
  http,
  makeTemp,
  withDaemon,
  waitForApp,
  waitForInstance,
  type Daemon,
} from '../helpers/daemon.js';

/**
 * A service that shows what reached it: the headers of a request (`/headers`), the size of an
 * upload (`/upload`), a request it never answers (`/hang`), a plain page with a reason phrase
 * and connection headers of its own (Node adds them anyway) at any other path, and WebSockets
 * that echo.
 */
const service = `const { createService } = await import(process.env.APPVISOR_SDK);
createService({
  start(instance) {
    return {
      http(request, response) {
        if (request.path === '/headers') {
          const body = JSON.stringify({ headers: request.headers, version: request.httpVersion });
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end(body);
        } else if (request.path === '/upload') {
          let bytes = 0;
          request.on('data', (chunk) => (bytes += chunk.length));
          request.on('end', () => {
            response.writeHead(200, { 'content-type': 'application/json' });
            response.end(JSON.stringify({ bytes }));
          });
        } else if (request.path === '/hang') {
          response.writeHead(200, { 'content-type': 'text/plain' });
          response.write('started');
        } else {
          response.writeHead(200, 'Fine Thanks', {
            'content-type': 'text/plain',
            'keep-alive': 'timeout=5',
            connection: 'keep-alive',
            'x-app': 'yes',
          });
          response.end('hello ' + instance.id);
        }
      },
      websocket(socket) {
        socket.on('message', (data) => socket.send(String(data)));
      },
    };
  },
});
`;

async function installSite(daemon: Daemon): Promise<void> {
  const work = await makeTemp();
  const folder = await makeAppFolder(work, 'site', {
    run: 'exec "$APPVISOR_NODE" "$APPVISOR_APP_DIR/main.mjs"',
    manifest: { instances: true, web: { static: 'public' } },
    files: { 'main.mjs': service, 'public/style.css': 'body { color: green }' },
  });
  const installed = await cli(['app', 'install', folder, '--autostart', '--data', daemon.data]);
  assert.equal(installed.code, 0, installed.stderr);
  await waitForApp(daemon, 'site');
  const created = await cli([
    'instance',
    'create',
    'site',
    'www',
    '--path',
    '/www',
    '--data',
    daemon.data,
  ]);
  assert.equal(created.code, 0, created.stderr);
  await waitForInstance(daemon, 'www');
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** One request on an HTTP/2 session; rejects when the stream is reset. */
function h2Request(
  session: ClientHttp2Session,
  path: string,
  options: { method?: string; body?: Buffer; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ':method': options.method ?? 'GET',
      ':path': path,
      ...options.headers,
    });
    const chunks: Buffer[] = [];
    let headers: IncomingHttpHeaders = {};
    stream.on('response', (received) => (headers = received));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('close', () => {
      // A stream the server reset may still end its readable side: the code tells.
      if (stream.rstCode !== constants.NGHTTP2_NO_ERROR) {
        reject(Object.assign(new Error(`stream reset`), { rstCode: stream.rstCode }));
        return;
      }
      resolve({
        status: Number(headers[':status']),
        headers,
        text: Buffer.concat(chunks).toString(),
      });
    });
    stream.on('error', () => undefined);
    stream.end(options.body);
  });
}

/** An HTTP/2 connection, once the server's settings have arrived. */
function h2Session(url: string): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2Connect(url, { rejectUnauthorized: false });
    session.once('remoteSettings', () => {
      resolve(session);
    });
    session.once('error', reject);
  });
}

/** The protocol a TLS handshake offering `protocols` settles on, and the certificate seen. */
function negotiate(
  url: string,
  protocols: string[],
): Promise<{ protocol: string | false; certificate: PeerCertificate }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect(
      { host: hostname, port: Number(port), ALPNProtocols: protocols, rejectUnauthorized: false },
      () => {
        resolve({
          protocol: socket.alpnProtocol ?? false,
          certificate: socket.getPeerCertificate(),
        });
        socket.destroy();
      },
    );
    socket.once('error', reject);
  });
}

describe("HTTP/2 on the front's HTTPS port", () => {
  const running = withDaemon({
    args: ['--set', 'front.keepAliveTimeoutSeconds=1', '--set', 'front.idleTimeoutSeconds=2'],
  });

  before(async () => {
    await installSite(running.daemon);
  });

  test('an HTTP/2 client gets h2 by ALPN and reaches the instance and its static files', async () => {
    const { daemon } = running;
    const session = await h2Session(daemon.httpsUrl);
    try {
      assert.equal(session.alpnProtocol, 'h2');

      // As nginx: a client may not open more than 128 streams at once (Node would allow 2^32).
      assert.equal(session.remoteSettings.maxConcurrentStreams, 128);
      const page = await h2Request(session, '/www/');
      assert.equal(page.status, 200);
      assert.equal(page.text, 'hello www');
      assert.equal(page.headers['x-app'], 'yes');
      assert.equal(page.headers.connection, undefined);
      assert.equal(page.headers['keep-alive'], undefined);

      const seen = await h2Request(session, '/www/headers', {
        headers: { 'x-appvisor-instance': 'other', 'x-forwarded-for': '10.9.9.9' },
      });
      assert.equal(seen.status, 200, seen.text);
      const { headers, version } = JSON.parse(seen.text) as {
        headers: Record<string, string>;
        version: string;
      };
      const authority = new URL(daemon.httpsUrl).host;
      assert.equal(version, '1.1', 'the service is spoken to in HTTP/1.1');
      assert.equal(headers.host, authority, 'the :authority becomes Host');
      assert.equal(headers['x-forwarded-host'], authority);
      assert.equal(headers['x-forwarded-proto'], 'https');
      assert.equal(headers['x-forwarded-for'], '127.0.0.1');
      assert.equal(headers['x-appvisor-instance'], 'www');
      assert.deepEqual(
        Object.keys(headers).filter((name) => name.startsWith(':')),
        [],
        'no pseudo-headers reach the service',
      );

      const css = await h2Request(session, '/www/style.css');
      assert.equal(css.status, 200);
      assert.equal(css.text, 'body { color: green }');
      assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');

      const upload = Buffer.alloc(1024 * 1024 + 7, 0x61);
      const stored = await h2Request(session, '/www/upload', { method: 'POST', body: upload });
      assert.equal(stored.status, 200, stored.text);
      assert.deepEqual(JSON.parse(stored.text), { bytes: upload.length });

      // Many requests at once on the one connection.
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, n) =>
          h2Request(session, n % 2 ? '/www/' : '/www/style.css'),
        ),
      );
      assert.deepEqual(
        answers.map((answer) => answer.status),
        answers.map(() => 200),
      );
    } finally {
      session.close();
    }
  });

  test('errors and redirects keep their status and code; the connection goes on', async () => {
    const { daemon } = running;
    const session = await h2Session(daemon.httpsUrl);
    try {
      const missing = await h2Request(session, '/nothing/here');
      assert.equal(missing.status, 404);
      assert.equal((JSON.parse(missing.text) as { code: string }).code, 'NOT_FOUND');

      const admin = await h2Request(session, '/manager/');
      assert.equal(admin.status, 308);
      const location = new URL(String(admin.headers.location));
      assert.equal(location.hostname, '127.0.0.1', 'the host the client named');
      assert.equal(location.port, new URL(daemon.adminUrl).port);

      // Answered with `Connection: close` over HTTP/1.1; over HTTP/2 that header is not
      // allowed, and the answer must still arrive whole. (The body fits the stream's window:
      // Node's client does not end a stream reset with NO_ERROR while it still has bytes to
      // send, as curl and browsers do.)
      const tooLarge = await h2Request(session, '/.appvisor/login', {
        method: 'POST',
        body: Buffer.alloc(16 * 1024, 0x7b),
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(tooLarge.status, 413);
      assert.equal((JSON.parse(tooLarge.text) as { code: string }).code, 'BAD_REQUEST');

      const after = await h2Request(session, '/www/');
      assert.equal(after.status, 200, 'the session still serves');
    } finally {
      session.close();
    }
  });

  test('a request without a byte for the idle timeout is cut alone; an idle connection closes', async () => {
    const { daemon } = running;
    const session = await h2Session(daemon.httpsUrl);
    const closed = new Promise<void>((resolve) => session.once('close', resolve));
    const hung = h2Request(session, '/www/hang');
    // The other streams of the connection are not touched.
    assert.equal((await h2Request(session, '/www/')).status, 200);
    await assert.rejects(hung, { rstCode: constants.NGHTTP2_CANCEL });
    assert.equal((await h2Request(session, '/www/')).status, 200);
    // Nothing in flight: after the keep-alive timeout the front ends the connection.
    await closed;
  });

  test('HTTP/1.1 clients and WebSockets are served on the same port', async () => {
    const { daemon } = running;
    assert.equal((await negotiate(daemon.httpsUrl, ['http/1.1'])).protocol, 'http/1.1');
    const page = await http('GET', { url: daemon.httpsUrl }, '/www/');
    assert.equal(page.status, 200);
    assert.equal(page.text, 'hello www');

    const url = `${daemon.httpsUrl.replace(/^https/, 'wss')}/www/socket`;
    const socket = new WebSocket(url, { rejectUnauthorized: false });
    const echoed = await new Promise<string>((resolve, reject) => {
      socket.once('open', () => {
        socket.send('über h2 port');
      });
      socket.once('message', (data: Buffer) => {
        resolve(data.toString());
      });
      socket.once('error', reject);
    });
    socket.close();
    assert.equal(echoed, 'über h2 port');
  });

  test('a new certificate applies to new HTTP/2 connections, which still get h2', async () => {
    const { daemon } = running;
    const before = await negotiate(daemon.httpsUrl, ['h2', 'http/1.1']);
    assert.equal(before.protocol, 'h2');
    const reset = await cli(['cert', 'reset', '--data', daemon.data]);
    assert.equal(reset.code, 0, reset.stderr);
    const after = await negotiate(daemon.httpsUrl, ['h2', 'http/1.1']);
    assert.equal(after.protocol, 'h2');
    assert.notEqual(
      new X509Certificate(after.certificate.raw).fingerprint256,
      new X509Certificate(before.certificate.raw).fingerprint256,
    );
    const session = await h2Session(daemon.httpsUrl);
    try {
      assert.equal((await h2Request(session, '/www/')).status, 200);
    } finally {
      session.close();
    }
  });
});

describe('https.http2 = false', () => {
  const running = withDaemon({ args: ['--set', 'https.http2=false'] });

  test('TLS clients get HTTP/1.1 only', async () => {
    const { daemon } = running;
    const offered = await negotiate(daemon.httpsUrl, ['h2', 'http/1.1']);
    assert.notEqual(offered.protocol, 'h2');
    const session = http2Connect(daemon.httpsUrl, { rejectUnauthorized: false });
    const failed = await new Promise<unknown>((resolve) => {
      session.once('error', resolve);
      session.once('connect', () => {
        resolve(undefined);
      });
    });
    session.destroy();
    assert.ok(failed, 'an h2-only client cannot connect');
    assert.equal((await http('GET', { url: daemon.httpsUrl }, '/nothing')).status, 404);
  });
});
