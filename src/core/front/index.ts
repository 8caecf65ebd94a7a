export { Front, type FrontAddress, type FrontOptions, type RequestHandler } from './front.js';
