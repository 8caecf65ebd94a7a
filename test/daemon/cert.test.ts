import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { before, describe, test } from 'node:test';
import type { CertificateStatus } from '../../src/api/index.js';
import { makeChain, makeEcCertificate, reencode, type Chain } from '../helpers/certificates.js';
import { cli, makeTemp, withDaemon, type Daemon } from '../helpers/daemon.js';

/** The SHA-256 fingerprint of the leaf the HTTPS port serves to a new connection. */
function served(daemon: Daemon): Promise<string> {
  const port = Number(new URL(daemon.httpsUrl).port);
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' },
      () => {
        resolve(socket.getPeerX509Certificate()!.fingerprint256);
        socket.end();
      },
    );
    socket.once('error', reject);
  });
}

function fingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

describe('the TLS certificate', () => {
  const running = withDaemon();
  let work: string;
  let chain: Chain;

  before(async () => {
    work = await makeTemp();
    chain = await makeChain();
  });

  async function set(bundle: string, key: string) {
    const bundlePath = join(work, 'bundle.pem');
    const keyPath = join(work, 'key.pem');
    await writeFile(bundlePath, bundle);
    await writeFile(keyPath, key);
    return cli(['cert', 'set', bundlePath, keyPath, '--data', running.daemon.data, '--json']);
  }

  test('a self-signed certificate is served from the first start', async () => {
    const { daemon } = running;
    const show = await cli(['cert', 'show', '--json', '--data', daemon.data]);
    const status = JSON.parse(show.stdout) as CertificateStatus;
    assert.equal(status.selfSigned, true);
    assert.equal(await served(daemon), status.fingerprint256);
  });

  test('bad uploads are refused with the reason, and the old certificate is still served', async () => {
    const { daemon } = running;
    const before = await served(daemon);
    const other = await makeChain();
    const expired = await makeChain({ expired: true });
    const cases: [string, string, string, RegExp][] = [
      ['key mismatch', `${chain.leaf}${chain.intermediate}`, other.key, /does not match/],
      ['expired', `${expired.leaf}${expired.intermediate}`, expired.key, /expired/],
      [
        'wrong order',
        `${chain.intermediate}${chain.leaf}`,
        chain.key,
        /key does not match|out of order/,
      ],
      ['broken chain', `${chain.leaf}${other.intermediate}`, chain.key, /out of order or broken/],
      ['encrypted key', chain.leaf, reencode(chain.key, 'encrypted'), /encrypted/],
      ['garbage bundle', 'hello', chain.key, /no PEM certificate/],
      ['garbage key', chain.leaf, 'not a key', /cannot be read/],
    ];
    for (const [name, bundle, key, reason] of cases) {
      const result = await set(bundle, key);
      assert.equal(result.code, 1, name);
      assert.match(result.stderr, /^error CERT_INVALID: /, name);
      assert.match(result.stderr, reason, name);
    }
    // leaf, intermediate, root — with the leaf's issuer out of place: intermediate after root
    const swapped = await set(`${chain.leaf}${chain.root}${chain.intermediate}`, chain.key);
    assert.match(swapped.stderr, /out of order or broken/);
    assert.equal(await served(daemon), before, 'the old certificate is still served');
  });

  test('a good bundle (PKCS#1 key) is served to the next connection without a restart', async () => {
    const { daemon } = running;
    const pid = daemon.child.pid;
    const result = await set(
      `${chain.leaf}${chain.intermediate}${chain.root}`,
      reencode(chain.key, 'pkcs1'),
    );
    assert.equal(result.code, 0, result.stderr);
    const status = JSON.parse(result.stdout) as CertificateStatus;
    assert.equal(status.chainLength, 3);
    assert.equal(status.selfSigned, false);
    assert.equal(await served(daemon), fingerprint(chain.leaf));
    assert.equal(daemon.child.pid, pid);
  });

  test('an EC key (SEC1) works too, and reset goes back to self-signed', async () => {
    const { daemon } = running;
    const ec = await makeEcCertificate();
    const result = await set(ec.cert, reencode(ec.key, 'sec1'));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await served(daemon), fingerprint(ec.cert));
    const reset = await cli(['cert', 'reset', '--json', '--data', daemon.data]);
    assert.equal(reset.code, 0, reset.stderr);
    const status = JSON.parse(reset.stdout) as CertificateStatus;
    assert.equal(status.selfSigned, true);
    assert.equal(await served(daemon), status.fingerprint256);
  });
});
