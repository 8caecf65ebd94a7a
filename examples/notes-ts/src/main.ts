/**
 * The service's entry point (`run` starts it). appvisor passes the file URL of its own SDK
 * bundle in APPVISOR_SDK, so the package needs no node_modules; `typeof import('appvisor/sdk')`
 * gives that bundle its types (from the appvisor package, a dev dependency).
 */
import { notesService, type Sdk } from './notes.js';

const url = process.env.APPVISOR_SDK;
if (url === undefined) {
  throw new Error('APPVISOR_SDK is not set: this service is started by appvisor');
}
const sdk = (await import(url)) as Sdk;
sdk.createService(notesService(sdk));
