/**
 * A WebSocket client process of the front benchmark, driven by bench/front.ts over its IPC
 * channel. One process would itself be the bottleneck at 10,000 sockets (and hold one fd
 * each), so the benchmark runs several of these and adds up what they report.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { connect as http2Connect, type ClientHttp2Session } from 'node:http2';
import WebSocket from 'ws';

/** Where to connect: a `ws://`, `wss://` or `ws+unix://` URL. */
export interface ClientTarget {
  url: string;
  headers: Record<string, string>;
  /**
   * Source addresses to spread TCP connections over, round robin (the front limits the
   * connections of one client address); empty for Unix sockets.
   */
  localAddresses: string[];
}

export type ClientCommand =
  | { type: 'open'; target: ClientTarget; count: number; concurrency: number; timeoutMs: number }
  | { type: 'echo'; warmupMs: number; durationMs: number; message: string }
  | { type: 'close'; timeoutMs: number }
  | {
      type: 'get';
      url: string;
      headers: Record<string, string>;
      connections: number;
      warmupMs: number;
      durationMs: number;
      /** Over HTTP/2 (TLS, ALPN h2): this many requests at once on each connection. */
      http2Streams?: number;
    };

export type ClientReply =
  | { type: 'opened'; open: number; failed: number; firstError: string | null }
  | { type: 'echoed'; roundTrips: number; latencies: Float64Array; unanswered: number }
  | { type: 'closed'; open: number; dropped: number }
  | {
      type: 'got';
      requests: number;
      bytes: number;
      errors: number;
      non2xx: number;
      latencies: Float64Array;
    }
  | { type: 'failed'; error: string };

const sockets = new Set<WebSocket>();
/** Sockets the other side closed while the benchmark still held them open. */
let dropped = 0;

function openOne(target: ClientTarget, index: number, timeoutMs: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const { localAddresses } = target;
    const ws = new WebSocket(target.url, {
      headers: target.headers,
      perMessageDeflate: false,
      rejectUnauthorized: false,
      handshakeTimeout: timeoutMs,
      ...(localAddresses.length > 0
        ? { localAddress: localAddresses[index % localAddresses.length] }
        : {}),
    });
    const fail = (error: Error) => {
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      ws.terminate();
      reject(error);
    };
    ws.once('error', fail);
    ws.once('unexpected-response', (request, response) => {
      request.destroy();
      fail(new Error(`HTTP ${response.statusCode ?? 0}`));
    });
    ws.once('open', () => {
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      sockets.add(ws);
      ws.once('close', () => {
        if (sockets.delete(ws)) dropped++;
      });
      resolve(ws);
    });
  });
}

async function open(command: Extract<ClientCommand, { type: 'open' }>): Promise<ClientReply> {
  let next = 0;
  let opened = 0;
  let failed = 0;
  let firstError: string | null = null;
  const deadline = Date.now() + command.timeoutMs;
  // A bounded number of handshakes in flight: a burst of thousands would overflow the
  // server's accept queue and measure SYN retries instead.
  const worker = async () => {
    while (next < command.count && Date.now() < deadline) {
      const index = next++;
      try {
        await openOne(command.target, index, Math.max(1, deadline - Date.now()));
        opened++;
      } catch (error) {
        failed++;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: command.concurrency }, worker));
  failed += command.count - next;
  return { type: 'opened', open: opened, failed, firstError };
}

/**
 * Every open socket sends a message, waits for its echo and sends the next; latencies are
 * recorded only between the warm-up's end and the duration's end.
 */
function echo(command: Extract<ClientCommand, { type: 'echo' }>): Promise<ClientReply> {
  const active = [...sockets];
  const latencies: number[] = [];
  let recording = false;
  let stopping = false;
  let waiting = active.length;
  return new Promise((resolve) => {
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      for (const ws of active) ws.removeAllListeners('message');
      resolve({
        type: 'echoed',
        roundTrips: latencies.length,
        latencies: Float64Array.from(latencies),
        unanswered: waiting,
      });
    };
    for (const ws of active) {
      let sentAt = 0;
      const send = () => {
        sentAt = performance.now();
        ws.send(command.message);
      };
      ws.on('message', () => {
        if (recording) latencies.push(performance.now() - sentAt);
        if (stopping) {
          ws.removeAllListeners('message');
          if (--waiting === 0) finish();
          return;
        }
        send();
      });
      send();
    }
    setTimeout(() => {
      recording = true;
      setTimeout(() => {
        recording = false;
        stopping = true;
        // Echoes still in flight come back within moments; a lost one must not hang the run.
        setTimeout(finish, 5_000);
        if (waiting === 0) finish();
      }, command.durationMs);
    }, command.warmupMs);
  });
}

async function closeAll(timeoutMs: number): Promise<ClientReply> {
  const closing = [...sockets];
  sockets.clear();
  await new Promise<void>((resolve) => {
    let left = closing.length;
    if (left === 0) {
      resolve();
      return;
    }
    const timer = setTimeout(() => {
      for (const ws of closing) ws.terminate();
      resolve();
    }, timeoutMs);
    for (const ws of closing) {
      ws.once('close', () => {
        if (--left === 0) {
          clearTimeout(timer);
          resolve();
        }
      });
      ws.close(1000);
    }
  });
  const reply: ClientReply = { type: 'closed', open: sockets.size, dropped };
  dropped = 0;
  return reply;
}

type GetCommand = Extract<ClientCommand, { type: 'get' }>;

/**
 * What a GET loop counts, and its measured window (opened after the warm-up): only requests
 * sent and answered whole inside it count. `stopping` tells the loops to end after the window.
 */
class GetTally {
  readonly #latencies: number[] = [];
  #requests = 0;
  #bytes = 0;
  errors = 0;
  non2xx = 0;
  recording = false;
  stopping = false;

  constructor(command: GetCommand) {
    setTimeout(() => {
      this.recording = true;
      setTimeout(() => {
        this.recording = false;
        this.stopping = true;
      }, command.durationMs);
    }, command.warmupMs);
  }

  /** An answer of `length` bytes read whole; `counted`: the window was open when it was sent. */
  answered(sentAt: number, counted: boolean, length: number): void {
    if (!counted || !this.recording) return;
    this.#requests++;
    this.#bytes += length;
    this.#latencies.push(performance.now() - sentAt);
  }

  reply(): ClientReply {
    return {
      type: 'got',
      requests: this.#requests,
      bytes: this.#bytes,
      errors: this.errors,
      non2xx: this.non2xx,
      latencies: Float64Array.from(this.#latencies),
    };
  }
}

/**
 * Runs `loops` request loops, each calling `step(next)` until the window is over, and
 * resolves with the tally once every loop has stopped (`done` runs first: closing connections).
 */
function runLoops(
  tally: GetTally,
  loops: number,
  step: (loop: number, next: () => void) => void,
  done: () => void,
): Promise<ClientReply> {
  return new Promise((resolve) => {
    let running = loops;
    const next = (loop: number) => {
      if (tally.stopping) {
        if (--running === 0) {
          done();
          resolve(tally.reply());
        }
        return;
      }
      step(loop, () => {
        next(loop);
      });
    };
    for (let loop = 0; loop < loops; loop++) next(loop);
  });
}

/**
 * GETs of one URL on `connections` keep-alive connections, each sending the next request when
 * the previous answer has been read; bodies are counted and dropped. For large answers, where
 * autocannon's parser (one process) would be the bottleneck.
 */
function get(command: GetCommand): Promise<ClientReply> {
  const url = new URL(command.url);
  const tls = url.protocol === 'https:';
  const agent = tls
    ? new HttpsAgent({
        keepAlive: true,
        maxSockets: command.connections,
        rejectUnauthorized: false,
      })
    : new HttpAgent({ keepAlive: true, maxSockets: command.connections });
  const send = tls ? httpsRequest : httpRequest;
  const tally = new GetTally(command);
  return runLoops(
    tally,
    command.connections,
    (_loop, next) => {
      const sentAt = performance.now();
      const counted = tally.recording;
      const req = send(url, { agent, headers: command.headers }, (response: IncomingMessage) => {
        if ((response.statusCode ?? 0) >= 300) tally.non2xx++;
        let length = 0;
        response.on('data', (chunk: Buffer) => {
          length += chunk.length;
        });
        response.once('end', () => {
          tally.answered(sentAt, counted, length);
          next();
        });
        response.once('error', () => {
          tally.errors++;
          next();
        });
      });
      req.once('error', () => {
        tally.errors++;
        setTimeout(next, 10);
      });
      req.end();
    },
    () => {
      agent.destroy();
    },
  );
}

/**
 * The same over HTTP/2: `connections` connections, each with `http2Streams` requests in flight,
 * each stream sending the next request when its answer has been read. A connection the server
 * ends (GOAWAY) is replaced.
 */
function get2(command: GetCommand): Promise<ClientReply> {
  const url = new URL(command.url);
  const path = url.pathname + url.search;
  const streams = command.http2Streams ?? 1;
  const tally = new GetTally(command);
  const sessions: ClientHttp2Session[] = [];
  const connect = (slot: number) => {
    const session = http2Connect(url.origin, { rejectUnauthorized: false });
    session.on('error', () => undefined);
    sessions[slot] = session;
    return session;
  };
  for (let slot = 0; slot < command.connections; slot++) connect(slot);
  return runLoops(
    tally,
    command.connections * streams,
    (loop, next) => {
      const slot = loop % command.connections;
      let session = sessions[slot]!;
      if (session.closed || session.destroyed) session = connect(slot);
      const sentAt = performance.now();
      const counted = tally.recording;
      let length = 0;
      let failed = false;
      const stream = session.request({ ':path': path, ...command.headers });
      stream.on('response', (headers) => {
        if (Number(headers[':status']) >= 300) tally.non2xx++;
      });
      stream.on('data', (chunk: Buffer) => {
        length += chunk.length;
      });
      stream.on('error', () => {
        failed = true;
      });
      stream.once('close', () => {
        if (failed || stream.rstCode !== 0) {
          tally.errors++;
          setTimeout(next, 10);
          return;
        }
        tally.answered(sentAt, counted, length);
        next();
      });
      stream.end();
    },
    () => {
      for (const session of sessions) session.destroy();
    },
  );
}

async function handle(command: ClientCommand): Promise<ClientReply> {
  switch (command.type) {
    case 'open':
      return open(command);
    case 'echo':
      return echo(command);
    case 'close':
      return closeAll(command.timeoutMs);
    case 'get':
      return command.http2Streams ? get2(command) : get(command);
  }
}

if (process.send) {
  const send = process.send.bind(process);
  process.on('message', (command: ClientCommand) => {
    handle(command).then(
      (reply) => send(reply),
      (error: unknown) => send({ type: 'failed', error: String(error) } satisfies ClientReply),
    );
  });
  // The benchmark gone (finished, failed or interrupted) means this client is done too.
  process.once('disconnect', () => {
    for (const ws of sockets) ws.terminate();
    process.exit(0);
  });
}
