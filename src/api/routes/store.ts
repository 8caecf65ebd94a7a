import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import type { RouteOf } from '../contract.js';
import {
  idContract,
  storeInstallContract,
  storeSourceContract,
  nameContract,
  storeUpdateAllContract,
} from '../contracts.js';
import type {
  StoreListing,
  StoreOperation,
  StoreSourceList,
  StoreUpdateAllAnswer,
  UpdateCheck,
} from '../types.js';

/** App stores: their sources, what they offer, install, update, the update check. */
export function storeRoutes(app: FastifyInstance, context: ApiContext): void {
  const { appStore } = context;

  app.get('/store/sources', async (): Promise<StoreSourceList> => ({
    sources: await appStore.sources.list(),
  }));

  app.put<RouteOf<typeof storeSourceContract>>(
    '/store/sources/:name',
    { schema: storeSourceContract.schema },
    (request) => appStore.sources.put({ name: request.params.name, ...request.body }),
  );

  app.delete<RouteOf<typeof nameContract>>(
    '/store/sources/:name',
    { schema: nameContract.schema },
    async (request) => {
      await appStore.sources.remove(request.params.name);
      return { ok: true };
    },
  );

  app.get('/store/apps', (): Promise<StoreListing> => appStore.list());

  app.get<RouteOf<typeof idContract>>('/store/apps/:id', { schema: idContract.schema }, (r) =>
    appStore.show(r.params.id),
  );

  app.post<RouteOf<typeof storeInstallContract>>(
    '/store/apps/:id/install',
    { schema: storeInstallContract.schema },
    (request) => appStore.install(request.params.id, request.body ?? {}),
  );

  app.post<RouteOf<typeof storeInstallContract>>(
    '/store/apps/:id/update',
    { schema: storeInstallContract.schema },
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

  app.post<RouteOf<typeof storeUpdateAllContract>>(
    '/store/update',
    { schema: storeUpdateAllContract.schema },
    (request): Promise<StoreUpdateAllAnswer> => appStore.updateAll(request.body ?? {}),
  );

  app.get('/store/updates', (): UpdateCheck => appStore.updates());
  app.post('/store/check', (): Promise<UpdateCheck> => appStore.check());
  app.get('/store/operations', (): { operations: StoreOperation[] } => ({
    operations: appStore.operations(),
  }));
}
