import { basename } from 'node:path';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { AppvisorError } from '../../core/errors/index.js';
import { ifRangeHolds, parseRange } from '../byte-range.js';
import type { ApiContext } from '../context.js';
import type { RouteOf } from '../contract.js';
import { backupFileContract } from '../contracts.js';

/** A header sent once; sent several times, it is not one this route takes. */
const single = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? '' : value;

/** Content types an uploaded archive may come with; the body is the archive itself. */
const archiveTypes = ['application/octet-stream', 'application/x-tar'];

/**
 * `Content-Disposition` naming the archive's file: a plain ASCII `filename` for old clients and
 * the exact name as `filename*` (RFC 6266).
 */
function attachment(file: string): string {
  const name = basename(file);
  const plain = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  return `attachment; filename="${plain}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/**
 * The archives as files: `GET /backups/files/<name>` downloads one (resumable: a single byte
 * range, `If-Range`), `PUT /backups/files/<name>` uploads one (streamed, checked, never over an
 * existing archive).
 */
export function backupFileRoutes(app: FastifyInstance, context: ApiContext): void {
  const { backups } = context;

  app.get<RouteOf<typeof backupFileContract>>(
    '/backups/files/*',
    { schema: backupFileContract.schema },
    async (request, reply) => {
      const archive = await backups.open(request.params['*']);
      const { size } = archive;
      void reply
        .header('content-type', 'application/octet-stream')
        .header('content-disposition', attachment(archive.file))
        .header('accept-ranges', 'bytes')
        .header('etag', archive.etag)
        .header('last-modified', archive.modifiedAt.toUTCString())
        .header('cache-control', 'no-store');
      const asked = request.headers.range;
      let range = parseRange(asked, size);
      // A resumed download of a file that changed since: the whole new file, not a mix.
      if (range !== undefined && !ifRangeHolds(single(request.headers['if-range']), archive)) {
        range = undefined;
      }
      if (range === 'unsatisfiable') {
        await archive.close();
        void reply.header('content-range', `bytes */${size}`);
        throw new AppvisorError(
          'RANGE_NOT_SATISFIABLE',
          `${archive.file} has ${size} bytes: the range ${asked ?? ''} is outside it`,
        );
      }
      if (range) {
        void reply
          .code(206)
          .header('content-range', `bytes ${range.start}-${range.end}/${size}`)
          .header('content-length', String(range.end - range.start + 1));
      } else {
        void reply.header('content-length', String(size));
      }
      if (request.method === 'HEAD' || size === 0) {
        // Not the file: Fastify's HEAD route would read a stream to its end to discard it.
        await archive.close();
        return Readable.from([]);
      }
      return archive.read(range);
    },
  );

  // The upload's parser lives in a context of its own (as the package upload's): registered on
  // the whole API, it would hand any route's body over as a raw stream. The archive is streamed
  // to disk by the core, never buffered here.
  void app.register((upload, _options, done) => {
    upload.removeAllContentTypeParsers();
    upload.addContentTypeParser(archiveTypes, (_request, payload, parsed) => {
      parsed(null, payload);
    });
    upload.put<RouteOf<typeof backupFileContract> & { Body: Readable }>(
      '/backups/files/*',
      {
        // An archive may be large and come slowly: an idle timeout instead of a total one.
        config: { streamedBody: true },
        schema: backupFileContract.schema,
      },
      async (request, reply) => {
        const body = request.body as unknown;
        if (!(body instanceof Readable)) {
          throw new AppvisorError(
            'UNSUPPORTED_MEDIA_TYPE',
            `send the archive as the body, with content-type ${archiveTypes[0]!}`,
          );
        }
        const length = Number(request.headers['content-length']);
        const entry = await backups.receive(request.params['*'], body, {
          expectedBytes: Number.isSafeInteger(length) && length >= 0 ? length : undefined,
        });
        void reply.code(201);
        return entry;
      },
    );
    done();
  });
}
