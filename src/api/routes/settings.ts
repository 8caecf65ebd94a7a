import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import type { PlatformSettings, PlatformSettingsChange } from '../types.js';

/** Platform settings: the label, the DNS name, the alarm URL and e-mail recipients. */
export function settingsRoutes(app: FastifyInstance, context: ApiContext): void {
  app.get('/settings', (): Promise<PlatformSettings> => context.settings.get());

  app.patch<{ Body: PlatformSettingsChange }>(
    '/settings',
    {
      schema: {
        body: {
          type: 'object',
          properties: {
            // The rules are the core's (SETTING_INVALID); the schema only bounds the size.
            label: { type: 'string', maxLength: 1024 },
            dnsName: { type: 'string', maxLength: 1024 },
            alarmUrl: { type: 'string', maxLength: 4096 },
            alarmEmail: { type: 'string', maxLength: 4096 },
          },
          additionalProperties: false,
        },
      },
    },
    (request): Promise<PlatformSettings> => context.settings.update(request.body),
  );
}
