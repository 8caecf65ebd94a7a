import type { FastifyInstance } from 'fastify';

/** How long the admin API waits for request bodies. */
export interface BodyTimeouts {
  /** Whole-body deadline of every request, counted from its head. */
  bodyMs: number;
  /** For a streamed upload by a logged-in admin: longest time without a byte received. */
  uploadIdleMs: number;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The body is streamed (a package upload): a logged-in admin gets the idle timeout. */
    streamedBody?: boolean;
  }
}

/**
 * Bounds the time a request body may take. Every body must arrive within `bodyMs` (a login
 * whose body trickled in one byte a second held its connection for minutes); the connection is
 * closed when it does not. A route marked `streamedBody` (package uploads, which may be large
 * and slow) gets, once the caller is known to be the admin, no total but an idle timeout: the
 * connection is closed only after `uploadIdleMs` without a byte. The time a handler takes after
 * the body has arrived is not bounded here.
 */
export function limitBodyTime(app: FastifyInstance, timeouts: BodyTimeouts): void {
  const timers = new WeakMap<object, NodeJS.Timeout>();
  app.addHook('onRequest', (request, _reply, done) => {
    const raw = request.raw;
    // No body, or one already read in full with the head.
    if (raw.complete) {
      done();
      return;
    }
    const timer = setTimeout(() => {
      raw.socket.destroy();
    }, timeouts.bodyMs);
    timer.unref();
    timers.set(raw, timer);
    const clear = () => {
      clearTimeout(timer);
    };
    // 'end' also comes when Node discards the body of a refused request.
    raw.once('end', clear);
    raw.once('close', clear);
    done();
  });
  // preParsing runs after authentication (the onRequest hooks), before the body is read.
  app.addHook('preParsing', (request, _reply, payload, done) => {
    const raw = request.raw;
    const timer = timers.get(raw);
    // Fastify's inject() (the route tests) has a socket without timeouts: nothing to bound.
    const socket = raw.socket as Partial<typeof raw.socket>;
    if (timer && request.routeOptions.config.streamedBody && request.principal) {
      clearTimeout(timer);
      // An idle socket times out, and the HTTP server closes a socket nobody else handles.
      socket.setTimeout?.(timeouts.uploadIdleMs);
      raw.once('end', () => socket.setTimeout?.(0));
    }
    done(null, payload);
  });
}
