/**
 * Debian's nginx as a reverse proxy in front of a service's Unix socket, for comparison: one
 * worker, a temp prefix folder, loopback on a free port (and a second one with TLS ended by
 * nginx), started and stopped by the benchmark; it also serves a folder of static files.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { access, constants, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { openFileLimit } from './report.js';

const candidates = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'];

/** The nginx binary, or undefined when none is installed. */
export async function findNginx(): Promise<string | undefined> {
  const inPath = (process.env.PATH ?? '').split(':').map((dir) => join(dir, 'nginx'));
  for (const path of [...inPath, ...candidates]) {
    try {
      await access(path, constants.X_OK);
      return path;
    } catch {
      // not there
    }
  }
  return undefined;
}

/** A port free on 127.0.0.1 right now (nginx cannot report the port it got for 0). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface NginxOptions {
  binary: string;
  /** An empty folder for the config, pid, logs and temp files. */
  prefix: string;
  /** The service's HTTP socket. */
  socket: string;
  /** Header set on every proxied request (the service wants its instance named). */
  headers: Record<string, string>;
  /** Certificate and key files (PEM) of the TLS listener: the manager's own. */
  tls: { cert: string; key: string };
  /** URL path prefix (ending in `/`) served from `folder` (ending in `/`) with sendfile. */
  files: { prefix: string; folder: string };
  /** TLS 1.2 suites allowed, OpenSSL's names joined by `:` (the manager's list). */
  ciphers: string;
}

export interface Nginx {
  port: number;
  /** The port where nginx ends TLS itself, then proxies as on `port`. */
  tlsPort: number;
  /** The same as `tlsPort` with HTTP/2 offered by ALPN (HTTP/1.1 to clients without it). */
  h2Port: number;
  masterPid: number;
  workerPid: number;
  /** The worker's limit of open files (what worker_rlimit_nofile could get). */
  workerFds: number;
  stop(): Promise<void>;
}

function config(options: NginxOptions, port: number, tlsPort: number, h2Port: number): string {
  const { prefix, tls, files } = options;
  const headers = Object.entries(options.headers)
    .map(([name, value]) => `      proxy_set_header ${name} ${value};`)
    .join('\n');
  // As root, the worker would otherwise run as nobody, who cannot reach the service's socket.
  const user = process.getuid?.() === 0 ? 'user root root;\n' : '';
  return `${user}daemon off;
master_process on;
worker_processes 1;
# 10,000 clients and as many upstream connections, plus files; where raising the limit is not
# allowed, nginx says so in its error log and keeps the limit it has.
worker_rlimit_nofile 65536;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events {
  worker_connections 30000;
}
http {
  access_log off;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  # Like the manager's front, which reuses a keep-alive connection without a request limit.
  keepalive_requests 1000000;
  upstream service {
    server unix:${options.socket};
    keepalive 64;
    keepalive_requests 1000000;
  }
  map $http_upgrade $connection_upgrade {
    default upgrade;
    '' '';
  }
  # Static files as nginx serves them best: sendfile, no copies through user space.
  sendfile on;
  tcp_nopush on;
  # TLS as the manager does it: same certificate, TLS 1.2 and 1.3, the same 1.2 suites,
  # sessions resumed from a cache.
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_ciphers ${options.ciphers};
  ssl_session_cache shared:SSL:10m;
  ssl_session_timeout 10m;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    listen 127.0.0.1:${tlsPort} ssl backlog=4096;
    listen 127.0.0.1:${h2Port} ssl http2 backlog=4096;
    ssl_certificate ${tls.cert};
    ssl_certificate_key ${tls.key};
    location ${files.prefix} {
      alias ${files.folder};
    }
    location / {
      proxy_pass http://service;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
${headers}
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
    }
  }
}
`;
}

async function childrenOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid)
      out.push(Number(entry));
  }
  return out;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    // TERM is nginx's fast shutdown: open connections are not waited for.
    child.kill('SIGTERM');
  });
}

/** Starts nginx in the foreground (its master is our child) and waits until it accepts. */
export async function startNginx(options: NginxOptions): Promise<Nginx> {
  const port = await freePort();
  const tlsPort = await freePort();
  const h2Port = await freePort();
  for (const folder of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'])
    await mkdir(join(options.prefix, folder), { recursive: true });
  const file = join(options.prefix, 'nginx.conf');
  await writeFile(file, config(options, port, tlsPort, h2Port));
  const child = spawn(
    options.binary,
    ['-p', options.prefix, '-c', file, '-e', join(options.prefix, 'error.log')],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const stop = () => stopChild(child);
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
      if ((await accepts(port)) && (await accepts(tlsPort)) && (await accepts(h2Port))) break;
      if (Date.now() > deadline) throw new Error(`nginx did not listen in time: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const [workerPid] = await childrenOf(child.pid!);
    if (workerPid === undefined) throw new Error('nginx has no worker process');
    return {
      port,
      tlsPort,
      h2Port,
      masterPid: child.pid!,
      workerPid,
      workerFds: await openFileLimit(workerPid),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
