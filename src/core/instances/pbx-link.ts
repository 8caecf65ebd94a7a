/** What a PBX App object is set up with to reach an instance (docs/appwebsocket.md). */
import type { InstanceView } from './model.js';

/**
 * The ready-made values for a PBX App object: its URL (`https://`, the form the App object
 * takes) and the WebSocket URL the PBX opens (`wss://`), both on the platform's DNS name and
 * the instance's path, and the instance's domain.
 */
export interface PbxLink {
  /** `https://<dns name><path>`: the App object's URL. */
  url: string;
  /** `wss://<dns name><path>`: where the PBX and its users' clients open the WebSocket. */
  websocketUrl: string;
  /** The host name in both URLs. */
  dnsName: string;
  /**
   * Where {@link dnsName} came from: the platform's DNS name setting, or, while that is empty,
   * the instance's domain (a guess: a hosted domain often resolves to its app platform).
   */
  dnsNameFrom: 'settings' | 'domain';
  /** The instance's domain, which a PBX logging in must be of. */
  domain: string;
}

/**
 * The App-object link of an instance, on `dnsName` (the platform's setting, `''` when none is
 * set: then on the instance's domain). No port: PBXes reach the front on 443 (a front on
 * another port needs `:port` added, or a forward from 443). Domains and paths are checked
 * when set (lower-case host names; paths of URL-safe characters), so nothing needs escaping.
 */
export function pbxLinkOf(view: Pick<InstanceView, 'domain' | 'path'>, dnsName: string): PbxLink {
  const host = dnsName === '' ? view.domain : dnsName;
  return {
    url: `https://${host}${view.path}`,
    websocketUrl: `wss://${host}${view.path}`,
    dnsName: host,
    dnsNameFrom: dnsName === '' ? 'domain' : 'settings',
    domain: view.domain,
  };
}
