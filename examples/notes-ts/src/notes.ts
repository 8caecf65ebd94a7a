/**
 * Notes: each instance keeps notes in its own database, lists and adds them over HTTP
 * (`GET`/`POST <instance path>/api/notes`), and pushes every new note to the WebSocket clients
 * that logged in with the AppWebsocket login (a PBX App object, or a page with the password).
 *
 * The SDK is passed in rather than imported: on appvisor the service loads the manager's own
 * bundle (`APPVISOR_SDK`, see main.ts), while the tests pass the one the test kit uses.
 */
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

      // Paths are inside the instance (`/api/notes` for `/example.com/a/api/notes`); a value a
      // route returns is answered as JSON; other paths get 404, other methods 405.
      const router = sdk
        .createRouter()
        .get('/', () => ({ app: instance.app, instance: instance.id }))
        .get('/api/notes', () => listNotes(instance))
        .post('/api/notes', async (request, response) => {
          // 400 for a body that is not JSON, 413 for one over the cap, by readJson itself.
          const text = noteText(await sdk.readJson(request, { maxBytes: maxBody }));
          if (typeof text !== 'string') {
            throw new sdk.HttpError(400, 'BAD_REQUEST', text.error);
          }
          sdk.sendJson(response, 201, await added(text));
        });

      return {
        http: router.handle,

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
