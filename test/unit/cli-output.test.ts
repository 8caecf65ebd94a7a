/**
 * What the CLI prints where no manager is needed to tell: failures with `--json` (a manager that
 * is not running), the daemon's help, and the terminal's progress lines drawn from what the
 * manager reports. The commands against a real manager are in test/daemon.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { run } from '../../src/cli/index.js';
import { makeTemp, removeTemp } from '../helpers/daemon.js';

/** Runs the CLI in this process; what it wrote and its exit code. */
async function runCli(
  args: string[],
  terminal = false,
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await run(
    args,
    {
      stdout: { write: (text: string | Uint8Array) => (stdout += String(text)) },
      stderr: { write: (text: string) => (stderr += text), isTTY: terminal },
      stdin: process.stdin,
    },
    {},
  );
  return { code, stdout, stderr };
}

describe('CLI failures with --json', () => {
  test('a manager that is not running: the error line on stderr, the error document on stdout', async () => {
    const data = await makeTemp();
    try {
      for (const args of [
        ['status'],
        ['disk'],
        ['instance', 'show', 'alpha'],
        ['backup', 'create', 'alpha'],
      ]) {
        const failed = await runCli(['--data', data, '--json', ...args]);
        assert.equal(failed.code, 1, args.join(' '));
        assert.match(failed.stderr, /^error MANAGER_UNREACHABLE: no manager answers at .*\n$/);
        const document = JSON.parse(failed.stdout) as { error: { code: string; message: string } };
        assert.deepEqual(Object.keys(document), ['error']);
        assert.equal(document.error.code, 'MANAGER_UNREACHABLE');
        assert.equal(
          `error ${document.error.code}: ${document.error.message}\n`,
          failed.stderr,
          'the same error in both',
        );
      }
      // Without --json stdout stays empty; the exit code is the same.
      const plain = await runCli(['--data', data, 'status']);
      assert.equal(plain.code, 1);
      assert.equal(plain.stdout, '');
      assert.match(plain.stderr, /^error MANAGER_UNREACHABLE: /);
    } finally {
      await removeTemp(data);
    }
  });

  test('an error the CLI finds itself is a document too; a usage error (exit 2) is not', async () => {
    const refused = await runCli(['--json', 'instance', 'delete', 'alpha']);
    assert.equal(refused.code, 1);
    assert.deepEqual(JSON.parse(refused.stdout), {
      error: {
        code: 'BAD_REQUEST',
        message: 'deleting alpha drops its database and files: add --yes',
      },
    });
    const usage = await runCli(['--json', 'instance', 'show']);
    assert.equal(usage.code, 2);
    assert.equal(usage.stdout, '');
  });
});

describe('appvisor daemon --help', () => {
  test('lists the global --data beside its own options, and no client-only option', async () => {
    const help = await runCli(['daemon', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--admin-port <n> /);
    assert.match(
      help.stdout,
      /\nGlobal options:\n {2}--data <dir> +data folder \(default \.\/data, or APPVISOR_DATA\)\n/,
    );
    // --json, --url and --token are for the clients of a manager, not the manager itself.
    assert.doesNotMatch(help.stdout, /--url|--token|--json/);
  });
});
