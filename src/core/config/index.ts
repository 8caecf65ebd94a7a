export { configSchema, type Config, type ParsedConfig } from './schema.js';
export { configKeys, type ConfigKey } from './keys.js';
export { loadConfig, otherEnvironment, type ConfigSources } from './load.js';
export { renderConfigDocs } from './docs.js';
