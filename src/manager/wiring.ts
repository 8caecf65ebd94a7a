/**
 * The links between parts that neither owns: who hears whose events, who learns of a new
 * certificate, where the front sends what it does not serve itself. Each is made once, by the
 * composition root, after both ends exist.
 */
import type { AlarmService } from '../core/alarms/index.js';
import type { AppService } from '../core/apps/index.js';
import { grantNode, type InstanceGrants } from '../core/auth/index.js';
import type { DatabaseDownAlarm, DatabaseServer } from '../core/database/index.js';
import type { EventLog } from '../core/events/index.js';
import {
  grantExchange,
  instanceResolver,
  peerSecret,
  type AdminListener,
  type Front,
  type RequestHandler,
} from '../core/front/index.js';
import type { InstanceService } from '../core/instances/index.js';
import type { PeerRoutes } from '../core/nodes/index.js';
import type { Store } from '../core/store/index.js';
import type { CertificatePair, CertificateStore } from '../core/tls/index.js';
import type { Component } from '../lib/lifecycle.js';
import { partOf } from './parts.js';

/**
 * The instances are hosted in the services of their apps: they learn from the app service when
 * a service comes, says something, or goes.
 */
export function hostInstancesInServices(
  apps: Pick<AppService, 'on'>,
  instances: Pick<InstanceService, 'serviceReady' | 'serviceMessage' | 'serviceGone'>,
): void {
  apps.on('service.ready', ({ app, channel }) => {
    instances.serviceReady(app, channel);
  });
  apps.on('service.message', ({ app, message }) => {
    instances.serviceMessage(app, message);
  });
  apps.on('service.gone', ({ app }) => {
    instances.serviceGone(app);
  });
}

/**
 * What a new certificate is given to: every TLS listener, and the watch of its expiry once
 * that watch is started (it checks a certificate loaded before then at its start).
 */
export function certificateUsers(
  listeners: readonly { setCertificate(pair: CertificatePair): void }[],
  watch: { current?: { check(): void } },
): (pair: CertificatePair) => void {
  return (pair) => {
    for (const listener of listeners) listener.setCertificate(pair);
    watch.current?.check();
  };
}

/** The event log writes to the store from its start (it buffered until then) to its close. */
export function eventsInStore(events: EventLog, store: Store): Component {
  return partOf('events-store', {
    start: () => {
      events.attach(store);
    },
    close: () => events.detach(),
  });
}

/** The watches that raise alarms before the store is there. */
export interface EarlyWatches {
  databaseDown: Pick<DatabaseDownAlarm, 'reconcile'>;
  certificates: Pick<CertificateStore, 'reconcileAlarm'>;
}

/**
 * The alarms are kept in the store from its start to its close. Once they are loaded, the
 * watches that raised or cleared alarms before the store was there (the database server, the
 * certificate) set theirs right.
 */
export function alarmsInStore(
  alarms: AlarmService,
  store: Store,
  { databaseDown, certificates }: EarlyWatches,
): Component {
  return partOf('alarms-store', {
    start: async () => {
      await alarms.attach(store);
      databaseDown.reconcile();
      await certificates.reconcileAlarm();
    },
    close: () => alarms.detach(),
  });
}

/** What the front routes: instance paths to their services, `/manager` to the admin origin. */
export interface FrontRoutes {
  adminListener: Pick<AdminListener, 'address'>;
  grants: Pick<InstanceGrants, 'instanceOf'>;
  instances: Pick<InstanceService, 'resolve' | 'adminLogin'>;
  apps: Pick<AppService, 'httpSocketOf' | 'ownerOf' | 'handoffOf' | 'staticDirOf'>;
  database: Pick<DatabaseServer, 'state'>;
  /** On a node of a cluster: the instances of the other nodes, and the platform's key. */
  peers?:
    | {
        routes: Pick<PeerRoutes, 'match' | 'lookup'>;
        secretKey: Buffer;
        /** Serves the other nodes' signed admin calls. */
        api: RequestHandler;
        /** Trades a grant another node issued, on that node. */
        exchangeGrant: (node: string, token: string, challenge: string) => Promise<object>;
        /** This node's id (its own grants are traded here). */
        self: string;
      }
    | undefined;
}

/**
 * Points the front at the instances (this node's, and on a cluster the other nodes'), the
 * admin origin and the grant logins.
 */
export function routeFront(front: Front, routes: FrontRoutes): void {
  const { adminListener, grants, instances, apps, database, peers } = routes;
  front.setGrantExchange(
    grantExchange({
      grants,
      instances,
      ...(peers
        ? {
            issuer: {
              nodeOf: (token: string) => {
                const node = grantNode(token);
                return node === peers.self ? undefined : node;
              },
              exchange: peers.exchangeGrant,
            },
          }
        : {}),
    }),
  );
  const adminAt = adminListener.address();
  if (adminAt) front.setAdminOrigin({ scheme: adminAt.scheme, port: adminAt.port });
  const secret = peers && peerSecret(peers.secretKey);
  const resolve = instanceResolver({
    instances,
    apps,
    database,
    ownUid: process.getuid?.() ?? 0,
    ...(peers && secret ? { peers: { routes: peers.routes, secret } } : {}),
  });
  front.setInstanceResolver(resolve);
  if (peers && secret) {
    front.setPeers({
      secret,
      lookup: async (path) => {
        await peers.routes.lookup(path);
        return resolve(path);
      },
      api: peers.api,
    });
  }
}
