import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { followLog, messageOf } from './api.js';

/** Lines kept in the page; older ones drop off the top. */
const keptLines = 5000;

function highlight(line: string, query: string) {
  if (!query) return line;
  const lower = line.toLowerCase();
  const parts = [];
  let from = 0;
  for (let at = lower.indexOf(query); at !== -1; at = lower.indexOf(query, from)) {
    parts.push(line.slice(from, at), <mark>{line.slice(at, at + query.length)}</mark>);
    from = at + query.length;
  }
  parts.push(line.slice(from));
  return parts;
}

/** The lines of a followed log: those shown, those held back while paused, and its state. */
interface LogStream {
  lines: string[];
  held: string[];
  state: 'connecting' | 'live' | 'ended';
  error: string | undefined;
  /** Shows the held lines (on resume). */
  release: () => void;
}

/**
 * Follows the app's log (again when `attempt` changes): new lines go to `lines`, or to `held`
 * while `paused` says so; at most {@link keptLines} of each are kept.
 */
function useLogStream(app: string, attempt: number, paused: { current: boolean }): LogStream {
  const [lines, setLines] = useState<string[]>([]);
  const [held, setHeld] = useState<string[]>([]);
  const [state, setState] = useState<LogStream['state']>('connecting');
  const [error, setError] = useState<string>();

  useEffect(() => {
    const controller = new AbortController();
    let partial = '';
    setLines([]);
    setHeld([]);
    setState('connecting');
    setError(undefined);
    const add = (text: string) => {
      setState('live');
      const parts = (partial + text).split('\n');
      partial = parts.pop() ?? '';
      if (parts.length === 0) return;
      const target = paused.current ? setHeld : setLines;
      target((previous) => [...previous, ...parts].slice(-keptLines));
    };
    followLog(app, 200, add, controller.signal).then(
      () => {
        if (!controller.signal.aborted) setState('ended');
      },
      (caught: unknown) => {
        if (controller.signal.aborted) return;
        setState('ended');
        setError(messageOf(caught));
      },
    );
    return () => {
      controller.abort();
    };
  }, [app, attempt]);

  const release = () => {
    setLines((previous) => [...previous, ...held].slice(-keptLines));
    setHeld([]);
  };
  return { lines, held, state, error, release };
}

/** Where the stream is: connecting, live (or paused, with what it holds), ended and why. */
function LogState(props: { stream: LogStream; paused: boolean }) {
  const { state, error, held } = props.stream;
  return (
    <p class="freshness" aria-live="polite">
      {state === 'connecting' && 'Connecting…'}
      {state === 'live' &&
        (props.paused ? `Paused, ${held.length} new lines held` : 'Following live')}
      {state === 'ended' && (error ? `Stopped: ${error}` : 'The log stream ended.')}
    </p>
  );
}

/**
 * An app's log, followed live over `GET /apps/:id/logs?follow=true`. Pausing keeps receiving
 * but holds the new lines back; the search shows only the lines that contain the text.
 */
export function LogView(props: { app: string }) {
  const [paused, setPaused] = useState(false);
  const [query, setQuery] = useState('');
  const [attempt, setAttempt] = useState(0);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;
  const stream = useLogStream(props.app, attempt, pausedRef);
  const { lines } = stream;
  const box = useRef<HTMLPreElement>(null);

  // Follow the end while live and not searching; a paused view stays where the reader is.
  useLayoutEffect(() => {
    const element = box.current;
    if (element && !paused) element.scrollTop = element.scrollHeight;
  }, [lines, paused, query]);

  const needle = query.trim().toLowerCase();
  const shown = needle ? lines.filter((line) => line.toLowerCase().includes(needle)) : lines;

  return (
    <section class="log" aria-labelledby="log-title">
      <div class="heading">
        <h2 id="log-title">Log</h2>
        <LogState stream={stream} paused={paused} />
      </div>
      <div class="log-tools">
        <button
          type="button"
          aria-pressed={paused}
          onClick={() => {
            if (paused) stream.release();
            setPaused(!paused);
          }}
        >
          {paused ? 'Resume' : 'Pause'}
        </button>
        {stream.state === 'ended' && (
          <button
            type="button"
            onClick={() => {
              setAttempt(attempt + 1);
            }}
          >
            Reconnect
          </button>
        )}
        <label class="search">
          <span>Search</span>
          <input
            type="search"
            value={query}
            placeholder="text in a line"
            onInput={(event) => {
              setQuery(event.currentTarget.value);
            }}
          />
        </label>
        {needle && (
          <span class="quiet" aria-live="polite">
            {shown.length} of {lines.length} lines
          </span>
        )}
      </div>
      <pre ref={box} class="log-lines" tabIndex={0} aria-label={`Log of ${props.app}`}>
        {shown.length === 0 ? (
          <span class="quiet">{needle ? 'No line matches.' : 'No lines yet.'}</span>
        ) : (
          shown.map((line, i) => (
            <div key={i} class="log-line">
              {highlight(line, needle)}
            </div>
          ))
        )}
      </pre>
    </section>
  );
}
