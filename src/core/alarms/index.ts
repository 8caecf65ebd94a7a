/**
 * Alarms: raised and cleared by the parts that detect trouble (and by apps over the service
 * protocol), kept in the store with their history, and sent to the alarm URL and by e-mail.
 * The public surface of the subsystem.
 */
export {
  AlarmService,
  CertificateWatch,
  reconcileAlarms,
  type AlarmOwner,
  type CertificateWatchOptions,
  type ActiveAlarm,
  type AlarmChange,
  type AlarmRaiser,
  type AlarmServiceOptions,
} from './alarm-service.js';
export {
  AlarmNotifier,
  type AlarmNotification,
  type AlarmNotifierOptions,
  type NotifierTargets,
  type SmtpOptions,
} from './notifier.js';
export { DeliveryQueue, PermanentFailure, type DeliveryQueueOptions } from './delivery-queue.js';
