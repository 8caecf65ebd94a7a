import { AppvisorError } from '../errors/index.js';
import type { PeerRoute } from '../nodes/index.js';
import { retrySeconds, type InstanceTarget } from './proxy.js';

/** What the front needs to route a request path to an instance's service. */
export interface ResolverSources {
  instances: {
    resolve(path: string): { id: string; app: string; path: string; ready: boolean } | undefined;
  };
  apps: {
    httpSocketOf(app: string): string | null;
    ownerOf(app: string): { uid: number } | null;
    handoffOf(app: string): InstanceTarget['handoff'];
    staticDirOf(app: string): string | undefined;
  };
  database: { readonly state: string };
  /** The manager's own uid: the owner of the apps' sockets when it does not run as root. */
  ownUid: number;
  /** The instances other nodes own (docs/cluster.md), with the platform's peer secret. */
  peers?: {
    routes: { match(path: string): PeerRoute | undefined };
    secret: string;
  };
}

const databaseOutage = new AppvisorError(
  'DATABASE_UNAVAILABLE',
  'the database server is restarting; retry shortly',
  { retryAfter: retrySeconds },
);

/** The front's instance resolver ({@link Front.setInstanceResolver}) over instances and apps. */
export function instanceResolver(
  sources: ResolverSources,
): (path: string) => InstanceTarget | undefined {
  const { instances, apps, database, ownUid, peers } = sources;
  return (path) => {
    const found = instances.resolve(path);
    // The longest path wins, whichever node owns it (as on a single node).
    const remote = peers?.routes.match(path);
    if (remote && (!found || remote.path.length > found.path.length)) {
      const { node, host, port, up } = remote;
      return {
        id: remote.id,
        path: remote.path,
        socket: null,
        socketOwner: ownUid,
        ready: up,
        peer: { node, host, port, up, secret: peers!.secret },
      };
    }
    if (!found) return undefined;
    const socket = apps.httpSocketOf(found.app);
    return {
      id: found.id,
      path: found.path,
      socket,
      // As root the socket must be the app user's; otherwise it is the manager's own.
      socketOwner: apps.ownerOf(found.app)?.uid ?? ownUid,
      ready: found.ready && socket !== null,
      // Every instance needs its database: while the server is away a page would only fail
      // inside the app (a 500), so the visitor is told to come back instead.
      outage: database.state === 'running' ? undefined : databaseOutage,
      handoff: apps.handoffOf(found.app),
      staticDir: apps.staticDirOf(found.app),
    };
  };
}
