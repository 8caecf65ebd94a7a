/** The platform's configuration file: export, check, plan, import. The public surface. */
export {
  ConfigTransfer,
  type ConfigTransferOptions,
  type ImportOptions,
  type ImportResult,
} from './config-transfer.js';
export {
  documentFormat,
  documentKind,
  maxDocumentBytes,
  parseDocument,
  renderDocument,
  type ConfigDocument,
} from './document.js';
export type { ExportOptions } from './export.js';
export type { PlannedChange } from './plan.js';
export type { NewInstanceOptions, PinOutcome, TransferInstances, TransferPorts } from './ports.js';
