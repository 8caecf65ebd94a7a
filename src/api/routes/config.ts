import type { FastifyInstance, FastifyReply } from 'fastify';
import {
  maxDocumentBytes,
  renderDocument,
  type ConfigDocument,
} from '../../core/transfer/index.js';
import type { ApiContext } from '../context.js';
import type { RouteOf } from '../contract.js';
import { configExportContract, configImportContract } from '../contracts.js';
import type { ImportResult } from '../types.js';

/** A file name for the download: the platform's name and the day, in safe characters. */
function fileName(document: ConfigDocument): string {
  const name = (document.source ?? 'appvisor').replace(/[^A-Za-z0-9.-]+/g, '-').slice(0, 60);
  const day = (document.exportedAt ?? new Date().toISOString()).slice(0, 10);
  return `appvisor-config-${name}-${day}.json`;
}

/** Sends the document as the file `config export` writes, offered as a download. */
function sendDocument(reply: FastifyReply, document: ConfigDocument): FastifyReply {
  return reply
    .header('content-type', 'application/json; charset=utf-8')
    .header('content-disposition', `attachment; filename="${fileName(document)}"`)
    .header('cache-control', 'no-store')
    .send(renderDocument(document));
}

/**
 * The configuration file (docs/configuration-file.md): `GET /config/export` without secrets,
 * `POST /config/export` with them (sealed by the passphrase in the body), `POST /config/import`.
 */
export function configRoutes(app: FastifyInstance, context: ApiContext): void {
  app.get('/config/export', async (_request, reply) =>
    sendDocument(reply, await context.configTransfer.export()),
  );

  app.post<RouteOf<typeof configExportContract>>(
    '/config/export',
    { schema: configExportContract.schema },
    async (request, reply) => {
      const body = request.body ?? { includeSecrets: false };
      const document = await context.configTransfer.export({
        includeSecrets: body.includeSecrets,
        ...(body.passphrase === undefined ? {} : { passphrase: body.passphrase }),
      });
      return sendDocument(reply, document);
    },
  );

  app.post<RouteOf<typeof configImportContract>>(
    '/config/import',
    // The file travels as a string inside the JSON body: room for it and its escaping.
    { schema: configImportContract.schema, bodyLimit: 2 * maxDocumentBytes },
    (request): Promise<ImportResult> =>
      context.configTransfer.import(request.body.file, {
        dryRun: request.body.dryRun,
        ...(request.body.passphrase === undefined ? {} : { passphrase: request.body.passphrase }),
      }),
  );
}
