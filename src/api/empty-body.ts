import type { FastifyInstance } from 'fastify';

/**
 * An empty request body means "no body", with or without `Content-Type: application/json`
 * (`curl -X POST -H 'content-type: application/json' …` sends one): a route whose body is
 * optional then gets `{}`, every field at its default, and a route whose body is required is
 * told which field is missing instead of "body must be object". Non-empty JSON goes through
 * Fastify's own parser (with its prototype-poisoning checks); streamed uploads are left alone.
 */
export function emptyBodyIsNoBody(api: FastifyInstance): void {
  const parseJson = api.getDefaultJsonParser('error', 'error');
  api.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body.length === 0) {
      done(null, undefined);
      return;
    }
    void parseJson(request, body.toString(), done);
  });
  api.addHook('preValidation', (request, _reply, done) => {
    const route = request.routeOptions;
    if (
      request.body === undefined &&
      route.schema?.body !== undefined &&
      route.config.streamedBody !== true
    )
      request.body = {};
    done();
  });
}
