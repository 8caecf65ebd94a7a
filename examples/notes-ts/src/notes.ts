/**
 * Notes: each instance keeps notes in its own database, lists and adds them over HTTP
 * (`GET`/`POST <instance path>/api/notes`), and pushes every new note to the WebSocket clients
 * that logged in with the AppWebsocket login (a PBX App object, or a page with the password).
 *
 * The SDK is passed in rather than imported: on appvisor the service loads the manager's own
 * bundle (`APPVISOR_SDK`, see main.ts), while the tests pass the one the test kit uses.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppSession, Instance, ServiceDefinition } from 'appvisor/sdk';
import { migrations } from './migrations.js';

/** The SDK module's shape, whichever copy of it is loaded. */
export type Sdk = typeof import('appvisor/sdk');

/** A note as the API shows it. */
export interface Note {
  id: number;
  text: string;
  created: string;
}

/** Largest request body accepted, in bytes. */
const maxBody = 16 * 1024;

/** The route inside the instance: request URLs start with the instance's path. */
function routeOf(instance: Instance, url = '/'): string | null {
  const path = new URL(url, 'http://instance').pathname;
  if (path !== instance.path && !path.startsWith(`${instance.path}/`)) return null;
  return path.slice(instance.path.length) || '/';
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

/** Reads a JSON body of at most {@link maxBody} bytes; undefined when it is too big or not JSON. */
async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBody) return undefined;
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** The note text of a request body, or why it is not one. */
function noteText(body: unknown): string | { error: string } {
  const text = (body as { text?: unknown } | undefined)?.text;
  if (typeof text !== 'string' || text.trim() === '' || text.length > 1000) {
    return { error: 'text must be a string of 1 to 1000 characters' };
  }
  return text.trim();
}

async function listNotes(instance: Instance): Promise<Note[]> {
  const { rows } = await instance.db.query<{ id: number; text: string; created: Date }>(
    'SELECT id, text, created FROM notes ORDER BY id',
  );
  return rows.map((row) => ({ ...row, created: row.created.toISOString() }));
}

async function addNote(instance: Instance, text: string): Promise<Note> {
  const { rows } = await instance.db.query<{ id: number; text: string; created: Date }>(
    'INSERT INTO notes (text) VALUES ($1) RETURNING id, text, created',
    [text],
  );
  const row = rows[0]!;
  instance.trace('app', 'note added', row.id);
  return { ...row, created: row.created.toISOString() };
}

/** The service definition, made with the SDK that runs it. */
export function notesService(sdk: Sdk): ServiceDefinition {
  return {
    migrations,
    start(instance) {
      /** Logged-in WebSocket sessions of this instance: they receive every new note. */
      const sessions = new Set<AppSession>();
      const added = async (text: string): Promise<Note> => {
        const note = await addNote(instance, text);
        for (const session of sessions) session.send({ mt: 'NoteAdded', note: { ...note } });
        return note;
      };

      return {
        async http(request, response) {
          const route = routeOf(instance, request.url);
          if (route === '/api/notes' && request.method === 'GET') {
            sendJson(response, 200, await listNotes(instance));
          } else if (route === '/api/notes' && request.method === 'POST') {
            const text = noteText(await readJson(request));
            if (typeof text !== 'string') sendJson(response, 400, text);
            else sendJson(response, 201, await added(text));
          } else if (route === '/') {
            sendJson(response, 200, { app: instance.app, instance: instance.id });
          } else {
            sendJson(response, 404, { error: 'no such route' });
          }
        },

        websocket: sdk.appWebsocket({
          session(session) {
            sessions.add(session);
            session.on('close', () => sessions.delete(session));
            session.on('message', (message) => {
              if (message.mt !== 'AddNote') return;
              const text = noteText(message);
              if (typeof text !== 'string') {
                session.send({ mt: 'AddNoteResult', ...text }, message);
                return;
              }
              added(text).then(
                (note) => {
                  session.send({ mt: 'AddNoteResult', note: { ...note } }, message);
                },
                (error: unknown) => {
                  instance.log('adding a note failed:', error);
                  session.send({ mt: 'AddNoteResult', error: 'not saved' }, message);
                },
              );
            });
          },
        }),

        stop() {
          sessions.clear();
        },
      };
    },
  };
}
