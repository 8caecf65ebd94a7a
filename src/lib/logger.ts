import { pino, type Logger, type LevelWithSilent, type StreamEntry } from 'pino';
import { escapeControls } from './text-escape.js';

export type { Logger } from 'pino';

/** Where a logger writes: anything with a `write(string)` method. */
export interface LogSink {
  write(line: string): unknown;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  level: LevelWithSilent;
  /** The structured log, one JSON object per line. */
  file: LogSink;
  /** Optional second sink that receives only warnings and errors (a terminal, say). */
  console?: LogSink;
  /** Extra fields on every line. */
  base?: Record<string, unknown>;
}

/**
 * Paths that are never written to any log, whatever a caller passes in: passwords, tokens,
 * cookies and credentials carried in URLs.
 */
export const redactedPaths = [
  'password',
  'token',
  'secret',
  '*.password',
  '*.token',
  '*.secret',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
];

/**
 * Turns the JSON lines of the log into one readable line each, for a terminal:
 * `appvisor warn: message (key=value ...)`. Control characters in the message and the values
 * (which may come from an app: an event's text) are escaped, so no text can start a line of
 * its own or drive the terminal.
 */
export function humanSink(sink: LogSink): LogSink {
  return {
    write(line: string) {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        const { level, msg, err } = entry;
        const fields = Object.entries(entry)
          .filter(([key]) => !['level', 'msg', 'time', 'err'].includes(key))
          .map(
            ([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`,
          );
        const error =
          err && typeof err === 'object' && 'message' in err ? `: ${String(err.message)}` : '';
        const tail = fields.length ? ` (${fields.join(' ')})` : '';
        const text = typeof msg === 'string' ? msg : '';
        sink.write(escapeControls(`appvisor ${String(level)}: ${text}${error}${tail}`) + '\n');
      } catch {
        sink.write(line);
      }
    },
  };
}

/** Creates the structured (JSON lines) logger of the manager. */
export function createLogger(options: LoggerOptions): Logger {
  const streams: StreamEntry[] = [
    { level: options.level === 'silent' ? 'fatal' : options.level, stream: options.file },
  ];
  if (options.console) streams.push({ level: 'warn', stream: humanSink(options.console) });
  return pino(
    {
      level: options.level,
      base: options.base ?? null,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: redactedPaths, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.multistream(streams),
  );
}
