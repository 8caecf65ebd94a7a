// Echo: the example service hosting instances. Each instance serves a page, counts requests in
// its own database, and echoes WebSocket messages.
const { createService } = await import(process.env.APPVISOR_SDK);

/** The route inside the instance: the request URL is the original path, e.g. /example.com/acme/count. */
function route(instance, url) {
  const path = (url ?? '/').split('?', 1)[0];
  const rest = path.startsWith(instance.path) ? path.slice(instance.path.length) : path;
  return rest === '' ? '/' : rest;
}

function json(response, status, body) {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function sql(instance, text, values) {
  instance.trace('database', text);
  return instance.db.query(text, values);
}

createService({
  async start(instance) {
    await sql(instance, 'CREATE TABLE IF NOT EXISTS hits (id int PRIMARY KEY, n bigint NOT NULL)');
    await sql(instance, 'INSERT INTO hits (id, n) VALUES (1, 0) ON CONFLICT (id) DO NOTHING');
    return {
      async http(request, response) {
        const path = route(instance, request.url);
        if (path === '/' && request.method === 'GET') {
          const html = `<!doctype html><meta charset="utf-8"><title>Echo ${escape(instance.id)}</title>
<h1>Echo</h1><p>Instance <b>${escape(instance.id)}</b> of ${escape(instance.domain)}.</p>`;
          response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
          response.end(html);
        } else if (path === '/count' && request.method === 'POST') {
          const { rows } = await sql(
            instance,
            'UPDATE hits SET n = n + 1 WHERE id = 1 RETURNING n',
          );
          const count = Number(rows[0].n);
          instance.trace('app', 'count', count);
          json(response, 200, { instance: instance.id, count });
        } else if (path === '/count' && request.method === 'GET') {
          const { rows } = await sql(instance, 'SELECT n FROM hits WHERE id = 1');
          json(response, 200, { instance: instance.id, count: Number(rows[0].n) });
        } else {
          json(response, 404, { code: 'NOT_FOUND', message: `no route ${path}` });
        }
      },
      websocket(socket) {
        socket.on('message', (data, isBinary) => {
          socket.send(isBinary ? data : data.toString());
        });
      },
    };
  },
});
