/**
 * The API's route table, read from the code itself: the API is built in this process with a
 * context whose services are never called (building only registers routes), so a test that
 * walks every route covers new routes without being told of them.
 */
import pino from 'pino';
import { buildApi, type ApiContext, type ApiRoute } from '../../src/api/index.js';

/** Every route of the API, with its closed schema. */
export async function apiRoutes(): Promise<readonly ApiRoute[]> {
  const unused = new Proxy(
    {},
    {
      get(_target, name) {
        throw new Error(`the route table needs no service (${String(name)} was read)`);
      },
    },
  );
  // What building reads: the logger and a few settings; every service stays unread.
  const known: Record<string | symbol, unknown> = {
    logger: pino({ level: 'silent' }),
    uiDir: '/nonexistent',
    bodyTimeouts: undefined,
    hstsMaxAgeSeconds: undefined,
  };
  const context = new Proxy(known, {
    get: (target, name): unknown => (name in target ? target[name] : unused),
  }) as unknown as ApiContext;
  const api = await buildApi(context);
  await api.close();
  return api.routes;
}
