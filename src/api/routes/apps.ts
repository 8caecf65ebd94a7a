import { PassThrough, Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { AppvisorError } from '../../core/errors/index.js';
import type { ApiContext } from '../context.js';
import type { RouteOf } from '../contract.js';
import {
  appActionContract,
  appConfigureContract,
  idContract,
  appLogsContract,
  appUninstallContract,
  appUploadContract,
} from '../contracts.js';

/** Content types an uploaded package may come with; the body is the archive itself. */
const packageTypes = [
  'application/octet-stream',
  'application/zip',
  'application/gzip',
  'application/x-gzip',
  'application/x-tar',
];

/** Apps: install, list, status, start, stop, restart, configure, uninstall, logs. */
export function appRoutes(app: FastifyInstance, context: ApiContext): void {
  const { apps, appStore } = context;
  app.get('/apps', async () => ({ apps: await apps.list() }));

  // The upload's parsers live in a context of their own: registered on the whole API, they
  // gave every JSON route's body as a raw stream to a client that chose their content type.
  // Package uploads are streamed to disk by the core, never buffered here.
  void app.register((upload, _options, done) => {
    upload.removeAllContentTypeParsers();
    upload.addContentTypeParser(packageTypes, (_request, payload, parsed) => {
      parsed(null, payload);
    });
    upload.post<RouteOf<typeof appUploadContract> & { Body: Readable }>(
      '/apps',
      {
        // A package may be large and come slowly: an idle timeout instead of a total one.
        config: { streamedBody: true },
        schema: appUploadContract.schema,
      },
      async (request, reply) => {
        const body = request.body as unknown;
        if (!(body instanceof Readable)) {
          throw new AppvisorError(
            'UNSUPPORTED_MEDIA_TYPE',
            `send the package as the body, with content-type ${packageTypes[0]!}`,
          );
        }
        const { id, autostart, purge } = request.query;
        // Over an installed app, guarded as an app store update: backup, wait, rollback.
        const status = await appStore.installUpload(body, {
          ...(id !== undefined ? { id } : {}),
          ...(autostart !== undefined ? { autostart } : {}),
          purge,
        });
        void reply.code(201);
        return status;
      },
    );
    done();
  });

  app.get<RouteOf<typeof idContract>>('/apps/:id', { schema: idContract.schema }, (request) =>
    apps.status(request.params.id),
  );

  app.delete<RouteOf<typeof appUninstallContract>>(
    '/apps/:id',
    { schema: appUninstallContract.schema },
    async (request) => {
      await apps.uninstall(request.params.id, { force: request.query.force ?? false });
      // On a cluster the app leaves the platform: the other nodes uninstall it too.
      await context.cluster?.forgetApp(request.params.id);
      return { ok: true };
    },
  );

  app.post<RouteOf<typeof appActionContract>>(
    '/apps/:id/:action',
    { schema: appActionContract.schema },
    (request) => {
      const { id, action } = request.params;
      switch (action) {
        case 'start':
          return apps.startApp(id);
        case 'stop':
          return apps.stopApp(id);
        case 'restart':
          return apps.restartApp(id);
      }
    },
  );

  app.patch<RouteOf<typeof appConfigureContract>>(
    '/apps/:id',
    { schema: appConfigureContract.schema },
    (request) => apps.configure(request.params.id, request.body),
  );

  app.get<RouteOf<typeof appLogsContract>>(
    '/apps/:id/logs',
    { schema: appLogsContract.schema },
    async (request, reply) => {
      const { lines, follow } = await apps.logs(request.params.id, request.query.lines);
      void reply.type('text/plain; charset=utf-8');
      if (!request.query.follow) return lines.join('');
      const stream = new PassThrough();
      for (const line of lines) stream.write(line);
      const stop = follow((line) => stream.write(line));
      const end = () => {
        stop();
        stream.end();
      };
      request.raw.once('close', end);
      return stream;
    },
  );
}
