import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import { idParams, secret, text } from '../schemas.js';
import type {
  StoreInstallBody,
  StoreListing,
  StoreOperation,
  StoreSourceBody,
  StoreSourceList,
  StoreUpdateAllAnswer,
  UpdateCheck,
} from '../types.js';

const nameParams = {
  type: 'object',
  required: ['name'],
  properties: { name: text(100) },
  additionalProperties: false,
} as const;
const installBody = {
  type: 'object',
  properties: {
    version: text(64),
    store: text(100),
    autostart: { type: 'boolean' },
    force: { type: 'boolean' },
    switchStore: { type: 'boolean' },
  },
  additionalProperties: false,
} as const;

/** App stores: their sources, what they offer, install, update, the update check. */
export function storeRoutes(app: FastifyInstance, context: ApiContext): void {
  const { appStore } = context;

  app.get('/store/sources', async (): Promise<StoreSourceList> => ({
    sources: await appStore.sources.list(),
  }));

  app.put<{ Params: { name: string }; Body: StoreSourceBody }>(
    '/store/sources/:name',
    {
      schema: {
        params: nameParams,
        body: {
          type: 'object',
          required: ['url'],
          properties: {
            url: text(2000),
            keys: { type: 'array', maxItems: 20, items: secret(2000) },
            allowUnsigned: { type: 'boolean' },
          },
          additionalProperties: false,
        },
      },
    },
    (request) => appStore.sources.put({ name: request.params.name, ...request.body }),
  );

  app.delete<{ Params: { name: string } }>(
    '/store/sources/:name',
    { schema: { params: nameParams } },
    async (request) => {
      await appStore.sources.remove(request.params.name);
      return { ok: true };
    },
  );

  app.get('/store/apps', (): Promise<StoreListing> => appStore.list());

  app.get<{ Params: { id: string } }>('/store/apps/:id', { schema: { params: idParams } }, (r) =>
    appStore.show(r.params.id),
  );

  app.post<{ Params: { id: string }; Body: StoreInstallBody | undefined }>(
    '/store/apps/:id/install',
    { schema: { params: idParams, body: installBody } },
    (request) => appStore.install(request.params.id, request.body ?? {}),
  );

  app.post<{ Params: { id: string }; Body: StoreInstallBody | undefined }>(
    '/store/apps/:id/update',
    { schema: { params: idParams, body: installBody } },
    (request) => {
      const { version, store, force, switchStore } = request.body ?? {};
      return appStore.update(request.params.id, {
        ...(version === undefined ? {} : { version }),
        ...(store === undefined ? {} : { store }),
        ...(force === undefined ? {} : { force }),
        ...(switchStore === undefined ? {} : { switchStore }),
      });
    },
  );

  app.post<{ Body: { force?: boolean } | undefined }>(
    '/store/update',
    {
      schema: {
        body: {
          type: 'object',
          properties: { force: { type: 'boolean' } },
          additionalProperties: false,
        },
      },
    },
    (request): Promise<StoreUpdateAllAnswer> => appStore.updateAll(request.body ?? {}),
  );

  app.get('/store/updates', (): UpdateCheck => appStore.updates());
  app.post('/store/check', (): Promise<UpdateCheck> => appStore.check());
  app.get('/store/operations', (): { operations: StoreOperation[] } => ({
    operations: appStore.operations(),
  }));
}
