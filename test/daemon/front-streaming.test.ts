import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { before, describe, test } from 'node:test';
import { nodeServiceWithInstance, withDaemon } from '../helpers/daemon.js';

const size = 100 * 1024 * 1024;

/** A service in plain Node.js: counts uploaded bytes, streams zeros for a download. */
const service = `const http = require('node:http');
const fs = require('node:fs');
const socket = process.env.APPVISOR_HTTP_SOCKET;
try { fs.unlinkSync(socket); } catch {}
const server = http.createServer((req, res) => {
  if (req.method === 'POST') {
    let n = 0;
    req.on('data', (c) => { n += c.length; });
    req.on('end', () => res.end(String(n)));
  } else {
    const total = ${size};
    res.writeHead(200, { 'content-length': total });
    const chunk = Buffer.alloc(64 * 1024);
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!res.write(chunk)) return res.once('drain', pump);
      }
      res.end();
    };
    pump();
  }
});
server.listen(socket, () => process.send({ type: 'ready', httpSocket: socket }));
process.on('message', (m) => {
  if (m.type === 'instance.start') process.send({ type: 'instance.ready', id: m.instance.id });
});
`;

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)![1]) / 1024;
}

describe('the proxy streams large bodies', () => {
  const running = withDaemon();

  before(async () => {
    await nodeServiceWithInstance(running.daemon, 'bulk', service, { id: 'big', path: '/big' });
  });

  test('three 100 MB uploads and a 100 MB download pass with the manager memory bounded', async () => {
    const { daemon } = running;
    const url = new URL(daemon.httpUrl);
    const pid = daemon.child.pid!;
    const before = await rssMiB(pid);
    let peak = before;
    const sampler = setInterval(() => {
      void rssMiB(pid).then((value) => (peak = Math.max(peak, value)));
    }, 50);
    try {
      for (let round = 0; round < 3; round++) {
        const uploaded = await new Promise<string>((resolve, reject) => {
          const req = request(
            { host: url.hostname, port: url.port, path: '/big/upload', method: 'POST' },
            (res) => {
              let text = '';
              res.on('data', (c: Buffer) => (text += c.toString()));
              res.on('end', () => {
                resolve(text);
              });
            },
          );
          req.once('error', reject);
          const chunk = Buffer.alloc(64 * 1024, 1);
          let sent = 0;
          Readable.from(
            (function* () {
              while (sent < size) {
                sent += chunk.length;
                yield chunk;
              }
            })(),
          ).pipe(req);
        });
        assert.equal(Number(uploaded), size);
      }
      const downloaded = await new Promise<number>((resolve, reject) => {
        const req = request(
          { host: url.hostname, port: url.port, path: '/big/download' },
          (res) => {
            let n = 0;
            res.on('data', (c: Buffer) => (n += c.length));
            res.on('end', () => {
              resolve(n);
            });
          },
        );
        req.once('error', reject);
        req.end();
      });
      assert.equal(downloaded, size);
    } finally {
      clearInterval(sampler);
    }
    // A body held whole would take at least 100 MiB; chunks in flight and not yet collected
    // garbage take a few tens.
    assert.ok(
      peak - before < 64,
      `the manager grew by ${(peak - before).toFixed(1)} MiB while 200 MB passed`,
    );
    process.stdout.write(
      `# manager RSS grew by ${(peak - before).toFixed(1)} MiB while 200 MB passed\n`,
    );
  });
});
