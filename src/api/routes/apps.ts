import { PassThrough, Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import type { AppConfigureBody } from '../types.js';

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', maxLength: 200 } },
} as const;

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
  // Package uploads are streamed to disk by the core, never buffered here.
  app.addContentTypeParser(packageTypes, (_request, payload, done) => {
    done(null, payload);
  });

  app.get('/apps', async () => ({ apps: await apps.list() }));

  app.post<{ Querystring: { id?: string; autostart?: boolean; purge?: boolean }; Body: Readable }>(
    '/apps',
    {
      // A package may be large and come slowly: an idle timeout instead of a total one.
      config: { streamedBody: true },
      schema: {
        querystring: {
          type: 'object',
          properties: {
            id: { type: 'string', maxLength: 200 },
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
        void reply.code(415);
        return {
          code: 'BAD_REQUEST',
          message: `send the package as the body, with content-type ${packageTypes[0]!}`,
        };
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
            id: idParams.properties.id,
            action: { type: 'string', enum: ['start', 'stop', 'restart'] },
          },
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
