/** Starting and stopping the remote backup servers of remote-server.ts from a test. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('./remote-server.js', import.meta.url));

/** A running S3 or WebDAV server in its own process. */
export interface RemoteServer {
  child: ChildProcess;
  port: number;
  /** Ends the process (SIGKILL) and waits for its exit. */
  kill(): Promise<void>;
}

/** Starts a server of `kind` on `folder` (see remote-server.ts for `env`). */
export async function startRemoteServer(
  kind: 's3' | 'webdav',
  folder: string,
  env: Record<string, string> = {},
): Promise<RemoteServer> {
  const child = spawn(process.execPath, [script, kind, folder], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      reject(new Error(`${kind} server did not start: ${stderr}`));
    }, 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${kind} server exited ${code}: ${stderr}`));
    });
  });
  const exited = once(child, 'exit');
  return {
    child,
    port,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
