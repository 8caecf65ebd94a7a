export { DataDir } from './data-dir.js';
export { dataLayout, type DataLayout } from './layout.js';
