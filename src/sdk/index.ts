/**
 * The appvisor SDK for services that host instances (app.json `"instances": true`). It speaks
 * the service protocol (docs/service-protocol.md) with the manager; docs/sdk.md shows how to
 * use it. It imports nothing of the manager but three pure files of src/lib it shares with it
 * (the protocol's messages, the AppWebsocket login, what pg's errors mean): else only node:,
 * `pg` and `ws`.
 */
export { createService, maxPayload, stopTimeoutMs } from './service.js';
export type { InstanceHandlers, Service, ServiceDefinition, ServiceOptions } from './service.js';
export type { Instance } from './instance.js';
export { HttpError, maxJsonBytes, readJson, sendJson } from './http.js';
export type { AppRequest, ReadJsonOptions } from './http.js';
export { createRouter, Router } from './router.js';
export type { RouteHandler } from './router.js';
export { MigrationError, migrationsTable } from './migrations.js';
export type { Migration, MigrationResult } from './migrations.js';
export { poolConnectTimeoutMs, poolIdleMs, poolMax } from './instance.js';
export { processChannel, type Channel } from './channel.js';
export type { DatabaseInfo, InstanceInfo, Severity } from '../lib/service-protocol.js';
export {
  AppSession,
  appWebsocket,
  loginTimeoutMs,
  maxFailedLogins,
  maxLoginFrameBytes,
} from './app-websocket.js';
export type { AppLoginInfo, AppMessage, AppWebsocketOptions, PbxInfo } from './app-websocket.js';
