import { Option, type Command } from 'commander';
import type { ApiClient } from './client.js';
import type { Io } from './output.js';

/** Everything a command needs: the client, output, and whether to print JSON. */
export interface CommandContext {
  client: ApiClient;
  io: Io;
  json: boolean;
}

/**
 * What `index.ts` hands each command group when it registers itself: the program to add
 * commands to, and the context of the run (made when a command runs, after the global
 * options are parsed).
 */
export interface Cli {
  program: Command;
  io: Io;
  env: Record<string, string | undefined>;
  /** The client, output and `--json` of this run. */
  context(): CommandContext;
  /** Whether `--json` was given (for the commands that need no manager). */
  json(): boolean;
  /** `--data`, as given (a daemon option as well as a client one). */
  dataOption(): string | undefined;
  /** Sets the exit code `run` resolves with (the daemon's). */
  setExitCode(code: number): void;
}

/** Option parser of repeatable options: each value adds to the list. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** A repeatable option (`--key A --key B`): its values as a list, empty when not given. */
export function repeatable(flags: string, description: string): Option {
  return new Option(flags, description).argParser(collect).default([]);
}

/**
 * The action of a command that talks to the manager: `command` called with the context of
 * the run (made when the command runs, after the global options are parsed) and commander's
 * arguments (the command's arguments, then its options).
 */
export function withContext<A extends unknown[]>(
  cli: Pick<Cli, 'context'>,
  command: (context: CommandContext, ...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return (...args) => command(cli.context(), ...args);
}
