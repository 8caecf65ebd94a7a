import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server as NetServer } from 'node:net';
import type { Duplex } from 'node:stream';
import { sendJson, type JsonAnswer } from './http-json.js';

/** What a guard reports: the error and where it was caught. */
export type GuardReport = (error: unknown, where: string) => void;

/** Answers a JSON body with the status and closes the connection afterwards. */
export function answerAndClose(response: ServerResponse, status: number, body: object): void {
  sendJson(response, status, body, { connection: 'close' });
}

/** Answers `failure` when nothing was sent yet; otherwise cuts the response (its head is out). */
function fail(response: ServerResponse, failure: JsonAnswer): void {
  try {
    if (response.headersSent) {
      response.destroy();
      return;
    }
    answerAndClose(response, failure.status, failure.body);
  } catch {
    response.destroy();
  }
}

/**
 * A request handler that cannot end the process: a throw out of a server's `request` listener
 * is an uncaught exception (fatal, by Node's default), and a rejection of what an async
 * handler returns is an unhandled one. Either is reported and answered with `failure` (the
 * caller's error answer: this layer knows no error codes), or the response cut when its head
 * is out already.
 */
export function guardRequests(
  handler: (request: IncomingMessage, response: ServerResponse) => unknown,
  report: GuardReport,
  failure: JsonAnswer,
): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    const failed = (error: unknown) => {
      report(error, `${request.method ?? '?'} request`);
      fail(response, failure);
    };
    try {
      const result = handler(request, response);
      if (result instanceof Promise) result.catch(failed);
    } catch (error) {
      failed(error);
    }
  };
}

/** The same for an `upgrade` listener: a throw is reported and the socket closed. */
export function guardUpgrades(
  handler: (request: IncomingMessage, socket: Duplex, head: Buffer) => void,
  report: GuardReport,
): (request: IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (request, socket, head) => {
    try {
      handler(request, socket, head);
    } catch (error) {
      report(error, 'upgrade');
      socket.destroy();
    }
  };
}

/**
 * Keeps an `'error'` listener on a listening server for good: an error it emits after
 * `listen` (an `accept` that fails when the process is out of file descriptors) has no
 * listener otherwise, which makes it an uncaught exception. Reported, the server goes on.
 */
export function guardServer(server: NetServer, report: GuardReport): void {
  server.on('error', (error) => {
    report(error, 'server');
  });
}
