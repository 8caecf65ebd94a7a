import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, test } from 'node:test';
import { withDaemon } from '../helpers/daemon.js';

interface Answer {
  status: number;
  ms: number;
}

/** One JSON request on a new connection from the given loopback source address. */
function from(
  source: string,
  base: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Answer> {
  const started = Date.now();
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const url = new URL(path, base);
    const req = request(
      url,
      {
        method,
        localAddress: source,
        agent: false,
        headers: payload
          ? { 'content-type': 'application/json', 'content-length': String(payload.length) }
          : {},
      },
      (response) => {
        response.resume();
        response.on('end', () => {
          resolve({ status: response.statusCode ?? 0, ms: Date.now() - started });
        });
      },
    );
    req.setTimeout(60_000, () => req.destroy(new Error('no answer in 60 s')));
    req.once('error', reject);
    req.end(payload);
  });
}

/**
 * Polls GET /health every 100 ms (from its own address) while `burst` runs, and one last time
 * after it; resolves with the burst's outcome and the slowest health answer.
 */
async function duringBurst<T>(
  base: string,
  burst: () => Promise<T>,
): Promise<{ outcome: T; slowest: number; polls: number }> {
  const state = { running: true };
  let slowest = 0;
  let polls = 0;
  const poller = (async () => {
    while (state.running) {
      const answer = await from('127.0.0.3', base, 'GET', '/manager/api/v1/health');
      assert.equal(answer.status, 200);
      slowest = Math.max(slowest, answer.ms);
      polls++;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  try {
    return { outcome: await burst(), slowest, polls };
  } finally {
    state.running = false;
    await poller;
  }
}

const login = '/manager/api/v1/auth/login';

describe('login under a flood', () => {
  // Plain HTTP on the admin origin: the requests are sent from chosen source addresses.
  const running = withDaemon({ args: ['--set', 'admin.tls=false'] });

  test('200 concurrent wrong passwords from one client: at most 5 are tried, the rest get 429; health answers within 2 s', async (t) => {
    const base = running.daemon.adminUrl;
    const { outcome, slowest, polls } = await duringBurst(base, () =>
      Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          from('127.0.0.1', base, 'POST', login, { password: `wrong-password-${i}` }),
        ),
      ),
    );
    const counts = new Map<number, number>();
    for (const answer of outcome) counts.set(answer.status, (counts.get(answer.status) ?? 0) + 1);
    const failed = counts.get(401) ?? 0;
    const limited = counts.get(429) ?? 0;
    assert.ok(failed <= 5, `at most the limit (5) are checked against the password, got ${failed}`);
    assert.equal(
      failed + limited,
      200,
      `every other answer is 429: ${JSON.stringify([...counts])}`,
    );
    t.diagnostic(`answers ${JSON.stringify([...counts])}, slowest health ${slowest} ms`);
    assert.ok(polls >= 1);
    assert.ok(slowest < 2_000, `health answered within 2 s (slowest ${slowest} ms)`);

    // The limit is the attacker's address's: the admin from another address logs in.
    const ok = await from('127.0.0.2', base, 'POST', login, { password: running.daemon.password });
    assert.equal(ok.status, 200);
    // ... while the flooding address is still refused, even with the right password.
    const still = await from('127.0.0.1', base, 'POST', login, {
      password: running.daemon.password,
    });
    assert.equal(still.status, 429);
  });

  test('wrong passwords from 200 addresses at once: hashes are capped, the rest get 429; health answers within 2 s', async (t) => {
    const base = running.daemon.adminUrl;
    const { outcome, slowest } = await duringBurst(base, () =>
      Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          from(`127.0.1.${i + 1}`, base, 'POST', login, { password: `wrong-password-${i}` }),
        ),
      ),
    );
    const statuses = outcome.map((answer) => answer.status);
    assert.ok(
      statuses.every((status) => status === 401 || status === 429),
      JSON.stringify(statuses),
    );
    const limited = statuses.filter((status) => status === 429).length;
    t.diagnostic(`429: ${limited} of 200, slowest health ${slowest} ms`);
    assert.ok(limited > 0, 'what does not fit the hash queue is refused at once');
    assert.ok(slowest < 2_000, `health answered within 2 s (slowest ${slowest} ms)`);

    // An address refused for a full queue was not charged an attempt: it may still log in.
    const refusedIndex = statuses.indexOf(429);
    const ok = await from(`127.0.1.${refusedIndex + 1}`, base, 'POST', login, {
      password: running.daemon.password,
    });
    assert.equal(ok.status, 200);
  });
});
