/**
 * A minimal client of the V8 inspector protocol, for a process started with
 * `--inspect=127.0.0.1:0`: enough to force a full GC before reading memory and to take a CPU
 * profile.
 */
import WebSocket from 'ws';

/** The `ws://` URL a Node.js process printed on stderr when it started with `--inspect`. */
export function inspectorUrl(stderr: string): string | undefined {
  return /Debugger listening on (ws:\/\/\S+)/.exec(stderr)?.[1];
}

interface Answer {
  id?: number;
  result?: unknown;
  error?: { message: string };
}

export class Inspector {
  readonly #socket: WebSocket;
  readonly #pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  #next = 1;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.on('message', (data: Buffer) => {
      const answer = JSON.parse(data.toString()) as Answer;
      if (answer.id === undefined) return;
      const waiting = this.#pending.get(answer.id);
      if (!waiting) return;
      this.#pending.delete(answer.id);
      if (answer.error) waiting.reject(new Error(answer.error.message));
      else waiting.resolve(answer.result);
    });
    socket.on('close', () => {
      for (const waiting of this.#pending.values()) waiting.reject(new Error('inspector closed'));
      this.#pending.clear();
    });
  }

  static connect(url: string): Promise<Inspector> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1024 ** 3 });
      socket.once('open', () => {
        socket.off('error', reject);
        // Errors after the handshake reject the calls in flight through 'close'.
        socket.on('error', () => undefined);
        resolve(new Inspector(socket));
      });
      socket.once('error', reject);
    });
  }

  /** One protocol call; a process busy with a long GC or profile gets `timeoutMs` to answer. */
  call<T = unknown>(method: string, params: object = {}, timeoutMs = 60_000): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`inspector: ${method} did not answer in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.#socket.send(JSON.stringify({ id, method, params }));
    });
  }

  /** A full, synchronous garbage collection in the inspected process. */
  async collectGarbage(): Promise<void> {
    await this.call('HeapProfiler.collectGarbage');
  }

  close(): void {
    this.#socket.close();
  }
}

/** A `.cpuprofile` as the `Profiler` domain returns it (the parts read here). */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** Self time per function, largest first, as shares of all samples. */
export function selfTimes(
  profile: CpuProfile,
): { name: string; where: string; share: number; selfMs: number }[] {
  const counts = new Map<number, number>();
  const deltas = profile.timeDeltas ?? [];
  const samples = profile.samples ?? [];
  // A sample's time is the delta to the next sample.
  for (let i = 0; i < samples.length; i++) {
    const time = deltas[i + 1] ?? 0;
    counts.set(samples[i]!, (counts.get(samples[i]!) ?? 0) + time);
  }
  const total = [...counts.values()].reduce((a, b) => a + b, 0) || 1;
  const byName = new Map<string, { name: string; where: string; micros: number }>();
  for (const node of profile.nodes) {
    const micros = counts.get(node.id) ?? 0;
    if (micros === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? `${shortUrl(url)}:${lineNumber + 1}` : '';
    const key = `${functionName}@${where}`;
    const entry = byName.get(key) ?? { name: functionName || '(anonymous)', where, micros: 0 };
    entry.micros += micros;
    byName.set(key, entry);
  }
  return [...byName.values()]
    .sort((a, b) => b.micros - a.micros)
    .map((e) => ({
      name: e.name,
      where: e.where,
      share: e.micros / total,
      selfMs: e.micros / 1000,
    }));
}

/**
 * Self time grouped by where the code lives: Node's own modules by name, appvisor's by file,
 * dependencies by package, and V8's pseudo-frames (GC, program, idle) as they are.
 */
export function selfTimesByArea(profile: CpuProfile): { area: string; share: number }[] {
  const areas = new Map<string, number>();
  let total = 0;
  for (const entry of selfTimes(profile)) {
    const area = areaOf(entry.name, entry.where);
    areas.set(area, (areas.get(area) ?? 0) + entry.share);
    total += entry.share;
  }
  return [...areas.entries()]
    .map(([area, share]) => ({ area, share: share / (total || 1) }))
    .sort((a, b) => b.share - a.share);
}

function shortUrl(url: string): string {
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) return url.slice(modules + '/node_modules/'.length);
  const dist = url.lastIndexOf('/dist/');
  if (dist >= 0) return url.slice(dist + '/dist/'.length);
  return url.replace(/^file:\/\//, '');
}

function areaOf(name: string, where: string): string {
  if (where === '') return name.startsWith('(') ? name : '(native)';
  if (where.startsWith('node:')) return where.replace(/:\d+$/, '');
  if (where.startsWith('src/')) return where.replace(/\.js:\d+$/, '.ts');
  const [first, second] = where.split('/');
  return first?.startsWith('@') ? `${first}/${second ?? ''}` : (first ?? where);
}
