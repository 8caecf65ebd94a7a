/**
 * A service's events and alarms (docs/service-protocol.md; its log lines the app service
 * writes itself). Nothing of them is trusted: texts are cut to {@link maxTextLength} and their
 * control characters escaped; an event's kind and an alarm's code are short words (the
 * parser in lib/service-protocol.ts sees to that); an app's alarm code is recorded as
 * `app:<app>:<code>`, so no app can raise or clear an alarm of the manager's own or of another
 * app, and one app holds at most `maxAppAlarms` raised at once. Rates are limited and messages
 * parsed before this (the app service).
 */
import { escapeControls } from '../../lib/text-escape.js';
import type { ServiceMessageOf } from '../../lib/service-protocol.js';
import type { InstanceServiceOptions } from './model.js';

/** Longest text of a service's event, alarm or failure the manager keeps (longer is cut). */
export const maxTextLength = 1000;

type MessageOptions = Pick<InstanceServiceOptions, 'apps' | 'events' | 'alarms' | 'maxAppAlarms'>;

/** Handles what services say about themselves and their instances besides `instance.*`. */
export class ServiceMessages {
  readonly #options: MessageOptions;
  /** Apps told (once until one of their alarms passes again) that their alarms are full. */
  readonly #alarmsFull = new Set<string>();

  constructor(options: MessageOptions) {
    this.#options = options;
  }

  /** `instance` is the id of the app's instance the message is about, if any. */
  handle(
    app: string,
    instance: string | undefined,
    message: ServiceMessageOf<'event' | 'alarm'>,
  ): void {
    if (message.type === 'alarm') {
      this.#alarm(app, instance, message);
      return;
    }
    this.#options.events.record({
      kind: `app.${message.kind}`.replace(/^app\.app\./, 'app.'),
      severity: message.severity,
      subject: instance ?? app,
      text: escapeControls(message.text, maxTextLength),
    });
  }

  /** An app's `alarm` message: raised or cleared under `app:<app>:<code>`, bounded per app. */
  #alarm(app: string, instance: string | undefined, message: ServiceMessageOf<'alarm'>): void {
    const prefix = `app:${app}:`;
    const code = `${prefix}${message.code}`;
    const subject = instance ?? app;
    const safe = escapeControls(message.text, maxTextLength);
    if (!message.active) {
      this.#options.alarms.clear(code, safe || `${message.code} cleared`, subject);
      return;
    }
    const held = this.#options.alarms.active().filter((alarm) => alarm.code.startsWith(prefix));
    const known = held.some((alarm) => alarm.code === code && alarm.subject === subject);
    if (!known && held.length >= this.#options.maxAppAlarms) {
      if (!this.#alarmsFull.has(app)) {
        this.#alarmsFull.add(app);
        this.#options.apps.note(
          app,
          `alarm ${message.code} dropped: ${app} holds ${held.length} alarms, the most one app may (services.maxAlarms)`,
        );
      }
      return;
    }
    this.#alarmsFull.delete(app);
    this.#options.alarms.raise(code, message.severity, safe, subject);
  }
}
