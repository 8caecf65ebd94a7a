export { AdminListener, type AdminListenerOptions } from './admin-listener.js';
export { Front, type FrontAddress, type FrontOptions, type RequestHandler } from './front.js';
export { instanceResolver, type ResolverSources } from './instance-resolver.js';
export { forwardHeaders, type InstanceTarget, type PeerTarget } from './proxy.js';
export { peerHeader, peerSecret } from './peer.js';
export { grantExchange, type GrantExchange, type GrantSources } from './grant-login.js';
export { serveStatic, type StaticOptions } from './static-files.js';
