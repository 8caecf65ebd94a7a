/**
 * Follows docs/tutorial.md step by step, as a reader would: writes each file it shows, runs
 * each command it shows (the CLI against a real daemon, curl against its front) and checks the
 * output it says the reader sees. A tutorial that drifts from the platform fails here.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { binPath, makeTemp, removeTemp, repoRoot, withDaemon } from '../helpers/daemon.js';
import { outputMatches, tutorialSteps } from '../helpers/tutorial.js';

const daemonUnderTest = withDaemon();

/** Commands that only look: a reader runs them again until the platform caught up. */
const looks = /^(curl\b|appvisor (\S+ )?(list|show|status|logs|events)\b)/;

function run(
  command: string,
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

const work = await makeTemp('appvisor-tutorial-');
after(() => removeTemp(work));

test('docs/tutorial.md works as written', async (t) => {
  const { daemon } = daemonUnderTest;
  const markdown = await readFile(join(repoRoot, 'docs', 'tutorial.md'), 'utf8');
  const steps = tutorialSteps(markdown);
  assert.ok(
    steps.some((step) => step.kind === 'command'),
    'the tutorial runs no command',
  );

  // `appvisor` on the PATH, talking to the test's daemon, as an installed CLI would.
  const bin = join(work, '.bin');
  await mkdir(bin);
  await writeFile(
    join(bin, 'appvisor'),
    `#!/bin/sh\nexec "${process.execPath}" "${binPath}" "$@"\n`,
    { mode: 0o755 },
  );
  const env = {
    PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: process.env.HOME ?? '/root',
    APPVISOR_DATA: daemon.data,
    // `npm install <checkout>` runs the checkout's `prepare` (a build) in spite of its
    // allowScripts warning: here that would rebuild dist/ under the tests running beside.
    npm_config_ignore_scripts: 'true',
  };
  const front = daemon.httpUrl.replace(/\/$/, '');

  for (const step of steps) {
    if (step.kind === 'file') {
      const path = join(work, step.path);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, step.content);
      if (step.path.endsWith('/run')) await chmod(path, 0o755);
      continue;
    }
    await t.test(`line ${step.line}: $ ${step.command}`, async () => {
      // The two things that differ on this machine: the front's address and the checkout.
      const command = step.command
        .replaceAll('http://localhost', front)
        .replaceAll('/path/to/appvisor', repoRoot.replace(/\/$/, ''));
      const deadline = Date.now() + (looks.test(step.command) ? 30_000 : 0);
      for (;;) {
        const { code, output } = await run(command, work, env);
        const expectFailure = /^error [A-Z_]+:/.test(step.expected);
        if ((code === 0) !== expectFailure && outputMatches(step.expected, output)) return;
        if (Date.now() >= deadline) {
          assert.fail(
            `docs/tutorial.md line ${step.line}: \`${step.command}\` exited ${code} and printed\n${output}\nbut the tutorial shows\n${step.expected}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    });
  }
});
