/**
 * The test kit (appvisor/sdk/testing): a real throwaway PostgreSQL (as root: run as the postgres
 * user), fake instances with databases of their own, requests without sockets, WebSockets with
 * the AppWebsocket login, and one close() that leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { appWebsocket, type ServiceDefinition } from '../../src/sdk/index.js';
import { startTestKit, type TestKit } from '../../src/sdk/testing/index.js';

const definition: ServiceDefinition = {
  migrations: [
    { version: 1, up: 'CREATE TABLE hits (n int PRIMARY KEY)' },
    { version: 2, up: 'INSERT INTO hits VALUES (0)' },
  ],
  start(instance) {
    return {
      async http(request, response) {
        if (request.method === 'POST') {
          let body = '';
          for await (const chunk of request) body += String(chunk);
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ got: JSON.parse(body) as unknown, url: request.url }));
          return;
        }
        if (request.url?.endsWith('/boom')) throw new Error('secret detail');
        const { rows } = await instance.db.query<{ n: number }>(
          'UPDATE hits SET n = n + 1 RETURNING n',
        );
        instance.trace('app', 'hit', rows[0]!.n);
        response.end(`${instance.id} ${rows[0]!.n}`);
      },
      websocket: appWebsocket({
        session(session) {
          session.on('message', (message) => {
            session.send({ mt: 'EchoResult', text: message.text, user: session.login.sip });
          });
        },
      }),
    };
  },
};

describe('the SDK test kit', { timeout: 120_000 }, () => {
  let kit: TestKit;
  before(async () => {
    kit = await startTestKit(definition);
  });
  after(async () => {
    await kit.close();
  });

  it('gives each instance its own migrated database and answers requests without a socket', async () => {
    const a = await kit.startInstance({ id: 'a', traceFlags: ['app'] });
    const b = await kit.startInstance({ id: 'b' });
    assert.equal((await kit.request(a, '/')).body, 'a 1');
    assert.equal((await kit.request(a, '/')).body, 'a 2');
    assert.equal((await kit.request(b, '/')).body, 'b 1');
    const posted = await kit.request(a, { method: 'POST', path: '/x?y=1', body: { k: 'v' } });
    assert.equal(posted.status, 200);
    assert.deepEqual(posted.json(), { got: { k: 'v' }, url: '/example.com/a/x?y=1' });
    // A throwing handler is answered as in production: 500 without the error's text, logged.
    const failed = await kit.request(a, '/boom');
    assert.equal(failed.status, 500);
    assert.doesNotMatch(failed.body, /secret detail/);
    assert.ok(kit.logs.some((line) => line.instance === 'a' && /secret detail/.test(line.text)));
    // Trace lines only under flags that are on; the migration was reported as an event.
    assert.ok(kit.logs.some((line) => line.instance === 'a' && line.flag === 'app'));
    assert.ok(!kit.logs.some((line) => line.instance === 'b' && line.flag === 'app'));
    assert.ok(kit.events.some((event) => event.instance === 'b' && event.kind === 'migrated'));
    // The databases are apart: b's role cannot reach a's database.
    const owners = await kit.postgres.query(
      "SELECT datname, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname LIKE 'kit_%' ORDER BY 1",
    );
    assert.deepEqual(owners.rows, [
      { datname: 'kit_a', owner: 'kit_a' },
      { datname: 'kit_b', owner: 'kit_b' },
    ]);
  });

  it('keeps an instance database across a stop and start, as a restart does', async () => {
    const c = await kit.startInstance({ id: 'c' });
    assert.equal((await kit.request(c, '/')).body, 'c 1');
    await kit.stopInstance(c);
    assert.equal((await kit.request(c, '/')).status, 404);
    const again = await kit.startInstance({ id: 'c' });
    assert.equal((await kit.request(again, '/')).body, 'c 2');
  });

  it('logs in over a WebSocket with the instance password, and refuses a wrong one', async () => {
    const d = await kit.startInstance({ id: 'd' });
    const client = await kit.websocket(d);
    assert.equal((await client.login(d.password, { sip: 'bob' })).mt, 'AppLoginResult');
    client.send({ mt: 'Echo', text: 'hi' });
    assert.deepEqual(await client.next(), { mt: 'EchoResult', text: 'hi', user: 'bob' });
    const wrong = await kit.websocket(d);
    assert.equal((await wrong.login('not the password')).ok, false);
  });

  it('reports a failed start with the instance error', async () => {
    const broken = await startTestKit(
      {
        migrations: [{ version: 1, up: 'CREATE TABLE broken (' }],
        start: () => ({}),
      },
      { postgres: kit.postgres },
    );
    try {
      await assert.rejects(broken.startInstance({ id: 'e' }), /instance e failed: .*syntax/);
    } finally {
      await broken.close();
    }
  });
});

describe('closing the kit', { timeout: 120_000 }, () => {
  it('stops the server and removes its folder', async () => {
    const kit = await startTestKit({ start: () => ({}) });
    const folder = kit.postgres.socketDir;
    await kit.startInstance();
    await kit.close();
    await assert.rejects(stat(folder), { code: 'ENOENT' });
  });
});
