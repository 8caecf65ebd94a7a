/**
 * A service's events and alarms (its log lines the app service writes itself) (docs/service-protocol.md). Nothing of it is trusted:
 * texts are cut to {@link maxTextLength} and their control characters escaped; an event's
 * kind and an alarm's code must be short words; an app's alarm code is recorded as
 * `app:<app>:<code>`, so no app can raise or clear an alarm of the manager's own or of
 * another app, and one app holds at most `maxAlarms` raised at once. Rates are limited
 * before this (AppService).
 */
import { escapeControls } from '../../lib/text-escape.js';
import type { Severity } from '../events/index.js';
import type { InstanceServiceOptions } from './model.js';

const severities = new Set(['info', 'warning', 'error', 'critical']);

/** An event kind or alarm code a service may use: a short word. */
const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

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
  handle(app: string, instance: string | undefined, message: Record<string, unknown>): void {
    const text = typeof message.text === 'string' ? message.text : '';
    switch (message.type) {
      case 'event': {
        const severity = (
          severities.has(message.severity as string) ? message.severity : 'info'
        ) as Severity;
        const kind =
          typeof message.kind === 'string' && namePattern.test(message.kind)
            ? message.kind
            : 'event';
        this.#options.events.record({
          kind: `app.${kind}`.replace(/^app\.app\./, 'app.'),
          severity,
          subject: instance ?? app,
          text: escapeControls(text, maxTextLength),
        });
        break;
      }
      case 'alarm':
        this.#alarm(app, instance, message, text);
        break;
      default:
        break;
    }
  }

  /** An app's `alarm` message: raised or cleared under `app:<app>:<code>`, bounded per app. */
  #alarm(
    app: string,
    instance: string | undefined,
    message: Record<string, unknown>,
    text: string,
  ): void {
    if (typeof message.code !== 'string' || !namePattern.test(message.code)) return;
    const prefix = `app:${app}:`;
    const code = `${prefix}${message.code}`;
    const subject = instance ?? app;
    const safe = escapeControls(text, maxTextLength);
    if (message.active === false) {
      this.#options.alarms.clear(code, safe || `${message.code} cleared`, subject);
      return;
    }
    const severity = (
      severities.has(message.severity as string) ? message.severity : 'warning'
    ) as Severity;
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
    this.#options.alarms.raise(code, severity, safe, subject);
  }
}
