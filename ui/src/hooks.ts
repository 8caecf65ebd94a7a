import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { messageOf } from './api.js';

/** What {@link usePoll} gives: the latest data, the latest error, and a way to reload now. */
export interface Polled<T> {
  data: T | undefined;
  error: string | undefined;
  /** When the data was last loaded. */
  at: Date | undefined;
  reload: () => Promise<void>;
  /** Shows a newer value at once (the answer of a change); later polls go on as before. */
  set: (value: T) => void;
}

/**
 * Loads with `load` now and every `intervalMs` while the tab is visible (a hidden tab asks the
 * manager nothing; it reloads when shown again). `key` changes start over.
 */
export function usePoll<T>(load: () => Promise<T>, intervalMs: number, key = ''): Polled<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const [at, setAt] = useState<Date>();
  const loadRef = useRef(load);
  loadRef.current = load;
  const alive = useRef(true);
  // A poll that was already under way when a change was answered must not undo it.
  const generation = useRef(0);

  const reload = useCallback(async () => {
    const started = generation.current;
    try {
      const value = await loadRef.current();
      if (!alive.current || started !== generation.current) return;
      setData(value);
      setError(undefined);
      setAt(new Date());
    } catch (caught) {
      if (alive.current) setError(messageOf(caught));
    }
  }, []);

  useEffect(() => {
    alive.current = true;
    setData(undefined);
    void reload();
    let timer: number | undefined;
    const schedule = () => {
      window.clearInterval(timer);
      timer = document.hidden
        ? undefined
        : window.setInterval(() => {
            void reload();
          }, intervalMs);
    };
    const onVisibility = () => {
      if (!document.hidden) void reload();
      schedule();
    };
    schedule();
    document.addEventListener('visibilitychange', onVisibility);
    return () => {
      alive.current = false;
      window.clearInterval(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    };
  }, [key, intervalMs, reload]);

  const set = useCallback((value: T) => {
    generation.current++;
    setData(value);
    setAt(new Date());
  }, []);

  return { data, error, at, reload, set };
}

/** Runs one operation at a time: `busy` while it runs, its error kept for showing. */
export function useAction(): {
  busy: boolean;
  error: unknown;
  run: <T>(operation: () => Promise<T>) => Promise<T | undefined>;
  clear: () => void;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const run = useCallback(async <T>(operation: () => Promise<T>) => {
    setBusy(true);
    setError(undefined);
    try {
      return await operation();
    } catch (caught) {
      setError(caught);
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return {
    busy,
    error,
    run,
    clear: () => {
      setError(undefined);
    },
  };
}

/** Seconds since the calling component was shown, ticking every second. */
export function useElapsed(): number {
  const [started] = useState(() => Date.now());
  const [now, setNow] = useState(started);
  useEffect(() => {
    const timer = window.setInterval(() => {
      setNow(Date.now());
    }, 1000);
    return () => {
      window.clearInterval(timer);
    };
  }, []);
  return Math.floor((now - started) / 1000);
}
