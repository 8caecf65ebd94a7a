// Echo: a small appvisor service that hosts instances. Each instance counts hits in its own
// database, serves a page naming itself, and echoes messages on its WebSocket to clients that
// logged in with the AppWebsocket login (a PBX App object, or an admin through the page).
//
// The manager gives the file URL of its SDK in APPVISOR_SDK, so this app needs no
// node_modules of its own. For types, see examples/notes-ts and docs/sdk.md ("Types, and
// getting the SDK into an app's project"); in JavaScript: /** @type {typeof import('appvisor/sdk')} */.
const { appWebsocket, createRouter, createService } = await import(process.env.APPVISOR_SDK);

function escapeHtml(text) {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );
}

function page(instance) {
  const id = escapeHtml(instance.id);
  const domain = escapeHtml(instance.domain);
  // JavaScript strings inside <script>: JSON, with `<` escaped so no `</script>` can end them.
  const script = (value) => JSON.stringify(value).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Echo ${id}</title>
<h1>Echo instance ${id}</h1>
<p>Domain: ${domain}</p>
<p>Count: <span id="count">?</span> <button id="hit">+1</button></p>
<p>WebSocket: <span id="login">connecting…</span></p>
<p><input id="text" value="hello" aria-label="text to echo">
<button id="echo" disabled>echo over WebSocket</button> <span id="echoed"></span></p>
<script>
const base = ${script(instance.path)};
const id = ${script(instance.id)};
const $ = (name) => document.getElementById(name);
const show = (body) => { $('count').textContent = body.count; };
fetch(base + '/count').then((r) => r.json()).then(show);
$('hit').onclick = () => fetch(base + '/count', { method: 'POST' }).then((r) => r.json()).then(show);

// The AppWebsocket login, as an admin: the instance gives a challenge, the front signs it with
// the instance password for the grant the admin UI put in this page's URL fragment (opened with
// "Open" there), and the instance checks it. The grant is kept in memory only.
const grant = new URLSearchParams(location.hash.slice(1)).get('appvisor-grant');
if (grant) history.replaceState(null, '', location.pathname + location.search);
const ws = new WebSocket(location.origin.replace(/^http/, 'ws') + base + '/');
ws.onopen = () => ws.send(JSON.stringify({ mt: 'AppChallenge' }));
ws.onclose = () => { $('login').textContent = 'closed'; $('echo').disabled = true; };
ws.onmessage = async (event) => {
  const message = JSON.parse(event.data);
  if (message.mt === 'AppChallengeResult') {
    const answer = grant && await fetch('/.appvisor/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: grant, challenge: message.challenge }),
    });
    if (!answer || !answer.ok) {
      $('login').textContent = 'not logged in: open this page with "Open" in the admin UI';
      return;
    }
    ws.send(JSON.stringify((await answer.json()).login));
  } else if (message.mt === 'AppLoginResult') {
    $('login').textContent = message.ok ? 'logged in as admin' : 'login refused';
    $('echo').disabled = !message.ok;
  } else if (message.mt === 'EchoResult') {
    $('echoed').textContent = message.text;
  }
};
$('echo').onclick = () => ws.send(JSON.stringify({ mt: 'Echo', text: $('text').value }));
</script>
</html>
`;
}

async function count(instance) {
  const result = await instance.db.query('SELECT n FROM hits WHERE id = 1');
  return Number(result.rows[0]?.n ?? 0);
}

// One router serves every instance: paths are inside the instance (`/count` for
// `/example.com/acme/count`), handlers get the instance, a returned value is sent as JSON, and
// other paths or methods are answered 404 / 405 as JSON.
const router = createRouter()
  .get('/', (request, response, instance) => {
    const html = page(instance);
    response.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': Buffer.byteLength(html),
    });
    response.end(html);
  })
  .post('/count', async (request, response, instance) => {
    const result = await instance.db.query('UPDATE hits SET n = n + 1 WHERE id = 1 RETURNING n');
    const n = Number(result.rows[0]?.n ?? 0);
    instance.trace('app', 'count', n);
    return { instance: instance.id, count: n };
  })
  .get('/count', async (request, response, instance) => ({
    instance: instance.id,
    count: await count(instance),
  }));

createService({
  async start(instance) {
    // The SDK traces every query under the flag `database` (SQL text, time, rows).
    await instance.db.query(
      'CREATE TABLE IF NOT EXISTS hits (id int PRIMARY KEY, n bigint NOT NULL)',
    );
    await instance.db.query('INSERT INTO hits (id, n) VALUES (1, 0) ON CONFLICT (id) DO NOTHING');
    instance.log('started for', instance.domain, 'at', instance.path);

    return {
      http: router.handle,

      // Only sessions that logged in reach this; the login itself is the SDK's.
      websocket: appWebsocket({
        session(session) {
          instance.trace('app', 'login', session.login.app, session.login.sip, session.login.dn);
          session.on('message', (message) => {
            if (message.mt === 'Echo' && typeof message.text === 'string') {
              session.send({ mt: 'EchoResult', text: message.text }, message);
            }
          });
        },
      }),

      stop() {
        instance.log('stopping');
      },
    };
  },
});
