import type { FrontAddress } from '../core/front/index.js';
import { version } from '../lib/version.js';
import type { Manager } from './daemon.js';

/** How an address is written in a URL to open (an unspecified one as `localhost`). */
function urlOf({ scheme, host, port }: FrontAddress, path: string): string {
  const shown =
    host === '' || host === '0.0.0.0' || host === '::'
      ? 'localhost'
      : host.includes(':')
        ? `[${host}]`
        : host;
  const standard = (scheme === 'http' && port === 80) || (scheme === 'https' && port === 443);
  return `${scheme}://${shown}${standard ? '' : `:${port}`}${path}`;
}

/**
 * What the daemon prints once it is ready: where to open it, the one-time admin password of a
 * first start, the metrics URL, the data folder.
 */
export function readyBanner(
  manager: Pick<
    Manager,
    'adminAddress' | 'addresses' | 'oneTimePassword' | 'metricsAddress' | 'config'
  >,
): string {
  const lines = [`appvisor ${version} is ready (pid ${process.pid})`];
  const adminAt = manager.adminAddress();
  if (adminAt) lines.push(`  admin URL: ${urlOf(adminAt, '/manager/')}`);
  for (const address of manager.addresses()) lines.push(`  front URL: ${urlOf(address, '/')}`);
  if (manager.oneTimePassword) {
    lines.push(`  one-time admin password: ${manager.oneTimePassword}`);
    lines.push('  (shown only now; set your own with `appvisor admin password --set`)');
  }
  const metricsAt = manager.metricsAddress();
  if (metricsAt) {
    const host = metricsAt.host.includes(':') ? `[${metricsAt.host}]` : metricsAt.host;
    lines.push(`  metrics URL: http://${host}:${metricsAt.port}/metrics (no login)`);
  }
  lines.push(`  data folder: ${manager.config.data}`);
  return lines.join('\n');
}
