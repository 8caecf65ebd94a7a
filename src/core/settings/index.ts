/** Platform settings (label, DNS name) kept in the store. The public surface of the subsystem. */
export {
  SettingsService,
  checkDnsName,
  checkLabel,
  maxLabelLength,
  type PlatformSettings,
} from './platform-settings.js';
