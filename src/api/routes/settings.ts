import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import type { RouteOf } from '../contract.js';
import { settingsContract } from '../contracts.js';
import type { PlatformSettings } from '../types.js';

/** Platform settings: the label, the DNS name, the alarm URL and e-mail recipients. */
export function settingsRoutes(app: FastifyInstance, context: ApiContext): void {
  app.get('/settings', (): Promise<PlatformSettings> => context.settings.get());

  app.patch<RouteOf<typeof settingsContract>>(
    '/settings',
    { schema: settingsContract.schema },
    (request): Promise<PlatformSettings> => context.settings.update(request.body),
  );
}
