import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { before, describe, test } from 'node:test';
import type { CertificateStatus } from '../../src/api/index.js';
import {
  makeChain,
  makeEcCertificate,
  makeRsaCertificate,
  makeWeakCaChain,
  reencode,
  type Chain,
} from '../helpers/certificates.js';
import {
  cli,
  http,
  login,
  makeTemp,
  startDaemon,
  withDaemon,
  type Daemon,
} from '../helpers/daemon.js';

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

  test('a remote CLI trusts the self-signed manager only with --ca, given by cert show --pem', async () => {
    const { daemon } = running;
    assert.match(daemon.adminUrl, /^https:/);
    const token = await login(daemon, daemon.password!);
    const remote = ['status', '--url', daemon.adminUrl, '--token', token];
    const refused = await cli(remote);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error TLS_UNTRUSTED: .*self-signed.*--ca FILE/m);

    const pem = await cli(['cert', 'show', '--pem', '--data', daemon.data]);
    assert.equal(pem.code, 0, pem.stderr);
    assert.match(pem.stdout, /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
    assert.doesNotMatch(pem.stdout, /PRIVATE KEY/);
    const caFile = join(work, 'manager.pem');
    await writeFile(caFile, pem.stdout);
    const trusted = await cli([...remote, '--ca', caFile, '--json']);
    assert.equal(trusted.code, 0, trusted.stderr);
    assert.ok('apps' in (JSON.parse(trusted.stdout) as object), trusted.stdout);
    // Through the environment too, as APPVISOR_URL and APPVISOR_TOKEN.
    const fromEnv = await cli(['status'], {
      env: { APPVISOR_URL: daemon.adminUrl, APPVISOR_TOKEN: token, APPVISOR_CA: caFile },
    });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);

    const notPem = join(work, 'not.pem');
    await writeFile(notPem, 'hello\n');
    const bad = await cli([...remote, '--ca', notPem]);
    assert.match(bad.stderr, /^error TLS_UNTRUSTED: the --ca file .* holds no PEM certificate/m);
    const missing = await cli([...remote, '--ca', join(work, 'missing.pem')]);
    assert.match(missing.stderr, /^error TLS_UNTRUSTED: cannot read the --ca file .*ENOENT/m);
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

  test('resets at once all succeed and leave a key that matches its certificate', async () => {
    const { daemon } = running;
    // Found by the API fuzz net: two at once renamed the same temp files (a 500, ENOENT).
    const answers = await Promise.all(
      Array.from({ length: 6 }, () =>
        http('POST', { socket: daemon.socket }, '/manager/api/v1/cert/reset'),
      ),
    );
    for (const answer of answers) assert.equal(answer.status, 200, answer.text);
    const [cert, key] = await Promise.all([
      readFile(join(daemon.data, 'tls', 'cert.pem'), 'utf8'),
      readFile(join(daemon.data, 'tls', 'key.pem'), 'utf8'),
    ]);
    const leaf = new X509Certificate(cert);
    assert.ok(leaf.checkPrivateKey(createPrivateKey(key)), "the key on disk is the certificate's");
    assert.equal(await served(daemon), leaf.fingerprint256);
  });
});

/** Whether a TLS 1.2 client offering only `ciphers` gets a connection. */
function handshake(daemon: Daemon, ciphers: string): Promise<boolean> {
  const port = Number(new URL(daemon.httpsUrl).port);
  return new Promise((resolve) => {
    const socket = connect(
      {
        host: '127.0.0.1',
        port,
        rejectUnauthorized: false,
        servername: 'localhost',
        maxVersion: 'TLSv1.2',
        ciphers,
      },
      () => {
        resolve(true);
        socket.end();
      },
    );
    socket.once('error', () => {
      resolve(false);
    });
  });
}

async function activeAlarms(daemon: Daemon): Promise<{ code: string; text: string }[]> {
  const answer = await http('GET', { socket: daemon.socket }, '/manager/api/v1/alarms');
  return (answer.body as { alarms: { code: string; text: string }[] }).alarms;
}

describe('weak and unusable certificates', () => {
  const running = withDaemon();
  let work: string;

  before(async () => {
    work = await makeTemp();
  });

  async function set(daemon: Daemon, pair: { cert: string; key: string }) {
    const bundlePath = join(work, 'bundle.pem');
    const keyPath = join(work, 'key.pem');
    await writeFile(bundlePath, pair.cert);
    await writeFile(keyPath, pair.key);
    return cli(['cert', 'set', bundlePath, keyPath, '--data', daemon.data, '--json']);
  }

  test('an RSA-512 pair and a pair Node TLS refuses are refused; the old certificate stays, also after a restart', async () => {
    const daemon = running.daemon;
    const good = await makeChain();
    const set1 = await set(daemon, { cert: `${good.leaf}${good.intermediate}`, key: good.key });
    assert.equal(set1.code, 0, set1.stderr);
    const before = await served(daemon);
    assert.equal(before, fingerprint(good.leaf));

    const weak = await set(daemon, await makeRsaCertificate(512));
    assert.equal(weak.code, 1);
    assert.match(weak.stderr, /^error CERT_INVALID: .*RSA with 512 bits: at least 2048/);
    const short = await set(daemon, await makeRsaCertificate(1024));
    assert.match(short.stderr, /^error CERT_INVALID: .*RSA with 1024 bits/);
    const refused = await set(daemon, await makeWeakCaChain());
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error CERT_INVALID: Node's TLS refuses .*too small/);
    assert.equal(await served(daemon), before, 'the old certificate is still served');

    await daemon.stop();
    const again = await startDaemon({ data: daemon.data });
    try {
      assert.equal(await served(again), before, 'the same certificate after a restart');
      assert.ok(!(await activeAlarms(again)).some((a) => a.code === 'certificate-unusable'));
    } finally {
      await again.stop();
    }
  });

  test('a saved pair replaced by a weak one on disk: the manager starts on a self-signed certificate with an alarm', async () => {
    const data = running.data;
    await running.daemon.stop();
    const weak = await makeRsaCertificate(512);
    await writeFile(join(data, 'tls', 'cert.pem'), weak.cert, { mode: 0o600 });
    await writeFile(join(data, 'tls', 'key.pem'), weak.key, { mode: 0o600 });
    let daemon = await startDaemon({ data });
    try {
      const show = await cli(['cert', 'show', '--json', '--data', data]);
      const status = JSON.parse(show.stdout) as CertificateStatus;
      assert.equal(status.selfSigned, true);
      assert.equal(await served(daemon), status.fingerprint256);
      assert.notEqual(status.fingerprint256, fingerprint(weak.cert));
      const alarm = (await activeAlarms(daemon)).find((a) => a.code === 'certificate-unusable');
      assert.ok(alarm, 'certificate-unusable is raised');
      assert.match(alarm.text, /512 bits/);
      await access(join(data, 'tls', 'cert.pem.unusable'));

      // It stays raised across a restart until the admin sets or resets a certificate.
      await daemon.stop();
      daemon = await startDaemon({ data });
      assert.equal(await served(daemon), status.fingerprint256, 'the same self-signed one');
      assert.ok((await activeAlarms(daemon)).some((a) => a.code === 'certificate-unusable'));
      const reset = await cli(['cert', 'reset', '--json', '--data', data]);
      assert.equal(reset.code, 0, reset.stderr);
      assert.ok(!(await activeAlarms(daemon)).some((a) => a.code === 'certificate-unusable'));
      await assert.rejects(access(join(data, 'tls', 'cert.pem.unusable')));
    } finally {
      await daemon.stop();
    }
  });
});

describe('TLS settings of the front and the admin', () => {
  const running = withDaemon();

  test('a TLS 1.2 client offering only CBC suites with SHA-1 cannot connect; AES-GCM can', async () => {
    const { daemon } = running;
    assert.equal(
      await handshake(daemon, 'ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA:AES128-SHA'),
      false,
    );
    assert.equal(await handshake(daemon, 'ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA'), false);
    assert.equal(
      await handshake(daemon, 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256'),
      true,
    );
  });

  test('HSTS and a Secure login cookie over HTTPS, neither over HTTP', async () => {
    const { daemon } = running;
    const path = '/manager/api/v1/auth/login';
    const password = daemon.password!;
    const overTls = await http('POST', { url: daemon.adminUrl }, path, { body: { password } });
    assert.equal(overTls.status, 200, overTls.text);
    assert.match(String(overTls.headers['strict-transport-security']), /^max-age=\d+$/);
    const tlsCookie = String(overTls.headers['set-cookie']);
    assert.match(tlsCookie, /; Secure/);
    const ui = await http('GET', { url: daemon.adminUrl }, '/manager/');
    assert.match(String(ui.headers['strict-transport-security']), /^max-age=\d+$/);

    // The front's plain HTTP port (apps' pages) sends none.
    const plain = await http('GET', { url: daemon.httpUrl }, '/manager/');
    assert.equal(plain.status, 308);
    assert.equal(plain.headers['strict-transport-security'], undefined);
  });
});
