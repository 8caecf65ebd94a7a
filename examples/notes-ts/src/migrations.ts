import type { Migration } from 'appvisor/sdk';

/**
 * The schema of each instance's database. appvisor's SDK runs the pending ones in one
 * transaction before the instance starts; a new version of the app only ever adds to this list.
 */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'create-notes',
    up: `CREATE TABLE notes (
           id serial PRIMARY KEY,
           text text NOT NULL CHECK (length(text) BETWEEN 1 AND 1000),
           created timestamptz NOT NULL DEFAULT now()
         )`,
  },
];
