/**
 * The "notes" app of the author's journey (issue 21), in plain JavaScript against the SDK: a
 * table of notes per instance made by a migration, an HTTP API (POST and GET /notes), a static
 * page (`web.static`), a WebSocket with the AppWebsocket login that pushes each new note to the
 * sessions of its instance, and a trace flag of its own (`notes`).
 */
import { makeAppFolder } from './apps.js';

/** A migration as the SDK takes it. */
export interface NotesMigration {
  version: number;
  name: string;
  up: string;
}

/** Migration 1: the table. */
export const notesTable: NotesMigration = {
  version: 1,
  name: 'notes',
  up: 'CREATE TABLE notes (id serial PRIMARY KEY, text text NOT NULL)',
};

/** Migration 2: a column with a default, which every existing note gets. */
export const notesPriority: NotesMigration = {
  version: 2,
  name: 'add-priority',
  up: 'ALTER TABLE notes ADD COLUMN priority integer NOT NULL DEFAULT 0',
};

/** A migration whose first statement works and whose second fails: nothing of it may stay. */
export function brokenMigration(version: number): NotesMigration {
  return {
    version,
    name: 'add-done',
    up: 'ALTER TABLE notes ADD COLUMN done boolean; SELECT 1 / 0',
  };
}

function notesMain(migrations: NotesMigration[]): string {
  return `const { appWebsocket, createService } = await import(process.env.APPVISOR_SDK);

function sendJson(response, status, body) {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  response.end(text);
}

async function readJson(request) {
  let text = '';
  for await (const chunk of request) text += chunk;
  return JSON.parse(text || '{}');
}

createService({
  migrations: ${JSON.stringify(migrations)},
  start(instance) {
    // The sessions that logged in, to push new notes to.
    const sessions = new Set();
    return {
      async http(request, response) {
        const path = new URL(request.url ?? '/', 'http://x').pathname.slice(instance.path.length);
        if (path !== '/notes') return sendJson(response, 404, { code: 'NOT_FOUND' });
        if (request.method === 'POST') {
          const { text } = await readJson(request);
          const added = await instance.db.query(
            'INSERT INTO notes (text) VALUES ($1) RETURNING *',
            [String(text)],
          );
          const note = added.rows[0];
          instance.trace('notes', 'added', note.id, note.text);
          for (const session of sessions) session.send({ mt: 'NoteAdded', note });
          return sendJson(response, 201, note);
        }
        const notes = await instance.db.query('SELECT * FROM notes ORDER BY id');
        const versions = await instance.db.query(
          'SELECT version FROM appvisor_migrations ORDER BY version',
        );
        return sendJson(response, 200, {
          notes: notes.rows,
          versions: versions.rows.map((row) => row.version),
        });
      },
      websocket: appWebsocket({
        session(session) {
          sessions.add(session);
          session.on('close', () => sessions.delete(session));
        },
      }),
    };
  },
});
`;
}

/** Writes the notes app at `version` with these migrations under `root`; its folder. */
export function notesApp(
  root: string,
  version: string,
  migrations: NotesMigration[],
): Promise<string> {
  return makeAppFolder(root, 'notes', {
    run: 'exec "$APPVISOR_NODE" "$APPVISOR_APP_DIR/main.mjs"',
    manifest: {
      version,
      title: 'Notes',
      instances: true,
      traceFlags: ['notes'],
      web: { static: 'public' },
    },
    files: {
      'main.mjs': notesMain(migrations),
      'public/index.html': `<!doctype html><title>Notes ${version}</title><h1>Notes</h1>\n`,
    },
  });
}
