/**
 * Platform settings (label, DNS name, alarm URL and e-mail recipients) kept in the store. The
 * public surface of the subsystem.
 */
export {
  SettingsService,
  checkAlarmEmail,
  checkAlarmUrl,
  checkDnsName,
  checkLabel,
  maxAlarmUrlLength,
  maxLabelLength,
  type AlarmTargets,
  type PlatformSettings,
  type PlatformSettingsChange,
} from './platform-settings.js';
