import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename, sep } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { AppvisorError, sendError } from '../core/errors/index.js';
import { serveStatic } from '../core/front/index.js';

/** Where the admin UI lives on the front. */
export const uiPrefix = '/manager';

/**
 * Vite names every file under `assets/` after a hash of its content, so a browser may keep them
 * for good; `index.html` names the current ones and is checked on every load.
 */
function headersFor(file: string): Record<string, string> {
  if (file.includes(`${sep}assets${sep}`))
    return { 'cache-control': 'public, max-age=31536000, immutable' };
  if (basename(file) === 'index.html') {
    return {
      'cache-control': 'no-cache',
      'content-security-policy':
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
      'x-frame-options': 'DENY',
      'referrer-policy': 'same-origin',
    };
  }
  return {};
}

const notBuiltPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>appvisor: the admin UI is not built</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem">
<h1>The admin UI is not built</h1>
<p>The manager is running, but the files of its web UI are missing. Run <code>npm run build</code>
(or <code>npm install</code>) in the appvisor folder, then reload this page.</p>
<p>Meanwhile, the <code>appvisor</code> command and the REST API under
<code>${uiPrefix}/api/v1/</code> work as usual.</p>
</body></html>
`;

/** A path that names a file (an extension in its last segment) rather than a page of the UI. */
function looksLikeFile(rest: string): boolean {
  return rest.startsWith('/assets/') || /\.[A-Za-z0-9]+$/.test(rest.split('/').pop() ?? '');
}

/**
 * Serves the built admin UI from `uiDir`: its files, and `index.html` for any other page under
 * `/manager/` (the UI routes on the client) except the API's. Without a build, a page says how
 * to make one.
 */
export async function serveUi(
  request: IncomingMessage,
  response: ServerResponse,
  uiDir: string,
  rest: string,
): Promise<void> {
  if (await serveStatic(request, response, uiDir, rest, { headers: headersFor })) return;
  if (looksLikeFile(rest)) {
    sendError(response, new AppvisorError('NOT_FOUND', `no file ${uiPrefix}${rest}`));
    return;
  }
  if (await serveStatic(request, response, uiDir, '/index.html', { headers: headersFor })) return;
  response.writeHead(503, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(notBuiltPage),
    'cache-control': 'no-cache',
  });
  response.end(request.method === 'HEAD' ? undefined : notBuiltPage);
}

/** `/manager/...` outside the API: the admin UI. */
export function uiRoutes(app: FastifyInstance, uiDir: string): void {
  app.get(uiPrefix, (_request, reply) => {
    void reply.redirect(`${uiPrefix}/`);
  });
  app.get(`${uiPrefix}/*`, async (request, reply) => {
    const rest = (request.url.split('?', 1)[0] ?? '/').slice(uiPrefix.length);
    // An unknown API route answers the API's JSON 404, never the UI's page.
    if (rest === '/api' || rest.startsWith('/api/')) {
      reply.callNotFound();
      return reply;
    }
    reply.hijack();
    try {
      await serveUi(request.raw, reply.raw, uiDir, rest);
    } catch (error) {
      request.log.error({ err: error }, 'serving the admin UI failed');
      if (!reply.raw.headersSent) reply.raw.writeHead(500);
      reply.raw.end();
    }
    return reply;
  });
}
