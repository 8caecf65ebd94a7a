import { createTransport, type Transporter } from 'nodemailer';
import { once, type Component } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import type { ActiveAlarm, AlarmChange, AlarmService } from './alarm-service.js';
import { DeliveryQueue, PermanentFailure } from './delivery-queue.js';

/** The JSON body POSTed to the alarm URL for each raise, clear and periodic re-send. */
export interface AlarmNotification {
  /** `raised` and `cleared` are changes; `active` is the periodic reminder of a raised alarm. */
  event: 'raised' | 'cleared' | 'active';
  code: string;
  severity: ActiveAlarm['severity'];
  subject: string;
  text: string;
  /** When the change happened (for `active`: when it was sent). */
  at: string;
  /** When the alarm was raised (absent for `cleared`). */
  since?: string;
  node: { id: string; label: string; host: string };
}

/** SMTP settings of {@link AlarmNotifier}; the password is never logged. */
export interface SmtpOptions {
  host: string;
  port: number;
  secure: boolean;
  user: string;
  password: string;
  from: string;
  to: string;
}

/** Options of {@link AlarmNotifier}. */
export interface AlarmNotifierOptions {
  alarms: AlarmService;
  logger: Logger;
  nodeId: string;
  host: string;
  label: () => Promise<string>;
  /** Where to POST; empty: no HTTP notifications. */
  url: string;
  /** E-mail, when a host and a recipient are set. */
  smtp: SmtpOptions | null;
  /** Period of re-sending the active alarms; 0: never. */
  resendMs: number;
  retry: { initialDelayMs: number; maxDelayMs: number; attempts: number; limit: number };
  timeoutMs?: number;
}

/**
 * Sends every alarm raise and clear to the alarm URL (JSON POST) and by e-mail, each through
 * its own ordered queue with retries, and re-sends the active alarms periodically so that a
 * receiver that lost state learns them again.
 */
export class AlarmNotifier implements Component {
  readonly name = 'alarm-notifier';
  readonly #options: AlarmNotifierOptions;
  readonly #queues: DeliveryQueue<AlarmNotification>[] = [];
  #transport: Transporter | undefined;
  #unsubscribe: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: AlarmNotifierOptions) {
    this.#options = options;
  }

  async start(): Promise<void> {
    const { url, smtp, logger, retry } = this.#options;
    const common = { logger, ...retry };
    if (url) {
      this.#queues.push(
        new DeliveryQueue({ ...common, name: 'http', send: (n, s) => this.#post(n, s) }),
      );
    }
    if (smtp?.host && smtp.to) {
      // Without `logger`/`debug`, nodemailer logs nothing (so never the password).
      this.#transport = createTransport({
        host: smtp.host,
        port: smtp.port,
        secure: smtp.secure,
        ...(smtp.user ? { auth: { user: smtp.user, pass: smtp.password } } : {}),
      });
      this.#queues.push(
        new DeliveryQueue({ ...common, name: 'smtp', send: (n) => this.#mail(n, smtp) }),
      );
    }
    if (this.#queues.length === 0) return;
    this.#unsubscribe = this.#options.alarms.onChange((change) => {
      void this.#enqueue(change.action, change);
    });
    if (this.#options.resendMs > 0) {
      this.#timer = setInterval(() => {
        for (const alarm of this.#options.alarms.active()) void this.#enqueue('active', alarm);
      }, this.#options.resendMs);
      this.#timer.unref();
    }
    await Promise.resolve();
  }

  async #enqueue(
    event: AlarmNotification['event'],
    alarm: AlarmChange | ActiveAlarm,
  ): Promise<void> {
    let label = '';
    try {
      label = await this.#options.label();
    } catch {
      // the store is away: the notification goes without the label
    }
    const notification: AlarmNotification = {
      event,
      code: alarm.code,
      severity: alarm.severity,
      subject: alarm.subject,
      text: alarm.text,
      at: 'at' in alarm ? alarm.at : new Date().toISOString(),
      ...('since' in alarm ? { since: alarm.since } : {}),
      node: { id: this.#options.nodeId, label, host: this.#options.host },
    };
    if (event === 'raised') notification.since = notification.at;
    for (const queue of this.#queues) queue.push(notification);
  }

  async #post(notification: AlarmNotification, signal: AbortSignal): Promise<void> {
    const response = await fetch(this.#options.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(notification),
      signal: AbortSignal.any([signal, AbortSignal.timeout(this.#options.timeoutMs ?? 10_000)]),
    });
    await response.body?.cancel();
    if (response.ok) return;
    const message = `the alarm URL answered ${response.status}`;
    // A request the receiver will never take: trying again cannot help.
    if (response.status >= 400 && response.status < 500 && ![408, 429].includes(response.status))
      throw new PermanentFailure(message);
    throw new Error(message);
  }

  async #mail(notification: AlarmNotification, smtp: SmtpOptions): Promise<void> {
    if (!this.#transport) return;
    const { event, code, subject, severity, text, node } = notification;
    const where = node.label || node.host;
    await this.#transport.sendMail({
      from: smtp.from || smtp.user || `appvisor@${node.host}`,
      to: smtp.to,
      subject: `[appvisor ${where}] ${event} ${code}${subject ? ` ${subject}` : ''} (${severity})`,
      text: `${text}\n\n${JSON.stringify(notification, null, 2)}\n`,
    });
  }

  readonly close = once(async () => {
    clearInterval(this.#timer);
    this.#unsubscribe?.();
    await Promise.all(this.#queues.map((queue) => queue.close()));
    this.#transport?.close();
  });

  destroy(): void {
    clearInterval(this.#timer);
    this.#unsubscribe?.();
    for (const queue of this.#queues) void queue.close();
    this.#transport?.close();
  }
}
