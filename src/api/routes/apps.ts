import { PassThrough, Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { AppvisorError } from '../../core/errors/index.js';
import type { ApiContext } from '../context.js';
import { idParams, text } from '../schemas.js';
import type { AppConfigureBody } from '../types.js';

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
  const { apps } = context;
  app.get('/apps', async () => ({ apps: await apps.list() }));

  // The upload's parsers live in a context of their own: registered on the whole API, they
  // gave every JSON route's body as a raw stream to a client that chose their content type.
  // Package uploads are streamed to disk by the core, never buffered here.
  void app.register((upload, _options, done) => {
    upload.removeAllContentTypeParsers();
    upload.addContentTypeParser(packageTypes, (_request, payload, parsed) => {
      parsed(null, payload);
    });
    upload.post<{
      Querystring: { id?: string; autostart?: boolean; purge?: boolean };
      Body: Readable;
    }>(
      '/apps',
      {
        // A package may be large and come slowly: an idle timeout instead of a total one.
        config: { streamedBody: true },
        schema: {
          querystring: {
            type: 'object',
            properties: {
              id: text(200),
              // Absent: a new app is off, a re-install keeps the app's setting.
              autostart: { type: 'boolean' },
              purge: { type: 'boolean', default: false },
            },
            additionalProperties: false,
          },
        },
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
        const status = await apps.installStream(body, {
          ...(id !== undefined ? { id } : {}),
          ...(autostart !== undefined ? { autostart } : {}),
          purge: purge ?? false,
        });
        void reply.code(201);
        return status;
      },
    );
    done();
  });

  app.get<{ Params: { id: string } }>('/apps/:id', { schema: { params: idParams } }, (request) =>
    apps.status(request.params.id),
  );

  app.delete<{ Params: { id: string }; Querystring: { force?: boolean } }>(
    '/apps/:id',
    {
      schema: {
        params: idParams,
        querystring: {
          type: 'object',
          properties: { force: { type: 'boolean' } },
          additionalProperties: false,
        },
      },
    },
    async (request) => {
      await apps.uninstall(request.params.id, { force: request.query.force ?? false });
      return { ok: true };
    },
  );

  app.post<{ Params: { id: string; action: 'start' | 'stop' | 'restart' } }>(
    '/apps/:id/:action',
    {
      schema: {
        params: {
          type: 'object',
          required: ['id', 'action'],
          properties: {
            id: text(200),
            action: { type: 'string', enum: ['start', 'stop', 'restart'] },
          },
          additionalProperties: false,
        },
      },
    },
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

  app.patch<{
    Params: { id: string };
    Body: AppConfigureBody;
  }>(
    '/apps/:id',
    {
      schema: {
        params: idParams,
        body: {
          type: 'object',
          properties: {
            autostart: { type: 'boolean' },
            logMaxBytes: { type: ['integer', 'null'], minimum: 65536 },
            logFiles: { type: ['integer', 'null'], minimum: 1, maximum: 100 },
            memoryMaxBytes: { type: ['integer', 'null'], minimum: 16 * 1024 * 1024 },
            cpuWeight: { type: ['integer', 'null'], minimum: 1, maximum: 10_000 },
            pidsMax: { type: ['integer', 'null'], minimum: 16, maximum: 4_194_304 },
          },
          additionalProperties: false,
        },
      },
    },
    (request) => apps.configure(request.params.id, request.body),
  );

  app.get<{ Params: { id: string }; Querystring: { lines: number; follow: boolean } }>(
    '/apps/:id/logs',
    {
      schema: {
        params: idParams,
        querystring: {
          type: 'object',
          properties: {
            lines: { type: 'integer', minimum: 0, maximum: 100_000, default: 100 },
            follow: { type: 'boolean', default: false },
          },
          additionalProperties: false,
        },
      },
    },
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
