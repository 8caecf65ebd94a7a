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

/** SMTP server of {@link AlarmNotifier}; the password is never logged. */
export interface SmtpOptions {
  host: string;
  port: number;
  secure: boolean;
  user: string;
  password: string;
  from: string;
}

/** Where notifications go now, and the platform label they carry. */
export interface NotifierTargets {
  label: string;
  /** Where to POST; empty: no HTTP notifications. */
  url: string;
  /** E-mail recipients (comma-separated); empty: no e-mail. */
  to: string;
}

/** Options of {@link AlarmNotifier}. */
export interface AlarmNotifierOptions {
  alarms: AlarmService;
  logger: Logger;
  nodeId: string;
  host: string;
  /**
   * The targets in effect now, read for each notification and each try of it, so that a
   * changed setting applies at once; should not throw (it is treated as "no targets").
   */
  targets: () => Promise<NotifierTargets>;
  /** The SMTP server; e-mail is sent when it has a host and the targets a recipient. */
  smtp: SmtpOptions | null;
  /** Period of re-sending the active alarms; 0: never. */
  resendMs: number;
  retry: { initialDelayMs: number; maxDelayMs: number; attempts: number; limit: number };
  timeoutMs?: number;
}

/** `scheme://host:port` of a URL, without credentials, path or query; for logs. */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(not a URL)';
  }
}

/**
 * `user:password@` of a URL as an `Authorization: Basic` header and the URL without it: fetch
 * refuses URLs with credentials.
 */
function splitCredentials(url: string): { target: string; authorization: string } {
  const parsed = new URL(url);
  if (!parsed.username && !parsed.password) return { target: url, authorization: '' };
  const login = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`;
  parsed.username = '';
  parsed.password = '';
  return {
    target: parsed.href,
    authorization: `Basic ${Buffer.from(login, 'utf8').toString('base64')}`,
  };
}

/**
 * Sends every alarm raise and clear to the alarm URL (JSON POST) and by e-mail, each through
 * its own ordered queue with retries, and re-sends the active alarms periodically so that a
 * receiver that lost state learns them again. The URL and the recipients are read when a
 * notification is sent (each try), so changing them needs no restart; the URL is never logged
 * beyond its origin, as it may carry credentials.
 */
export class AlarmNotifier implements Component {
  readonly name = 'alarm-notifier';
  readonly #options: AlarmNotifierOptions;
  readonly #queues: DeliveryQueue<AlarmNotification>[] = [];
  #http: DeliveryQueue<AlarmNotification> | undefined;
  #smtp: DeliveryQueue<AlarmNotification> | undefined;
  #transport: Transporter | undefined;
  #unsubscribe: (() => void) | undefined;
  /** Queueing waits for the targets; chained so that notifications keep the alarms' order. */
  #queued: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;

  constructor(options: AlarmNotifierOptions) {
    this.#options = options;
  }

  async start(): Promise<void> {
    const { smtp, logger, retry } = this.#options;
    const common = { logger, ...retry };
    this.#http = new DeliveryQueue({ ...common, name: 'http', send: (n, s) => this.#post(n, s) });
    this.#queues.push(this.#http);
    if (smtp?.host) {
      // Without `logger`/`debug`, nodemailer logs nothing (so never the password).
      this.#transport = createTransport({
        host: smtp.host,
        port: smtp.port,
        secure: smtp.secure,
        ...(smtp.user ? { auth: { user: smtp.user, pass: smtp.password } } : {}),
      });
      this.#smtp = new DeliveryQueue({ ...common, name: 'smtp', send: (n) => this.#mail(n, smtp) });
      this.#queues.push(this.#smtp);
    }
    this.#unsubscribe = this.#options.alarms.onChange((change) => {
      this.#enqueue(change.action, change);
    });
    if (this.#options.resendMs > 0) {
      this.#timer = setInterval(() => {
        for (const alarm of this.#options.alarms.active()) this.#enqueue('active', alarm);
      }, this.#options.resendMs);
      this.#timer.unref();
    }
    await Promise.resolve();
  }

  /**
   * The targets changed: a notification waiting to be tried again is tried at once (with the
   * new ones) instead of after its delay.
   */
  retargeted(): void {
    for (const queue of this.#queues) queue.retryNow();
  }

  async #targets(): Promise<NotifierTargets> {
    try {
      return await this.#options.targets();
    } catch {
      return { label: '', url: '', to: '' };
    }
  }

  #enqueue(event: AlarmNotification['event'], alarm: AlarmChange | ActiveAlarm): void {
    const at = 'at' in alarm ? alarm.at : new Date().toISOString();
    this.#queued = this.#queued.then(() => this.#build(event, alarm, at));
  }

  async #build(
    event: AlarmNotification['event'],
    alarm: AlarmChange | ActiveAlarm,
    at: string,
  ): Promise<void> {
    const { label, url, to } = await this.#targets();
    const notification: AlarmNotification = {
      event,
      code: alarm.code,
      severity: alarm.severity,
      subject: alarm.subject,
      text: alarm.text,
      at,
      ...('since' in alarm ? { since: alarm.since } : {}),
      node: { id: this.#options.nodeId, label, host: this.#options.host },
    };
    if (event === 'raised') notification.since = notification.at;
    if (url) this.#http?.push(notification);
    if (to) this.#smtp?.push(notification);
  }

  async #post(notification: AlarmNotification, signal: AbortSignal): Promise<void> {
    // The URL now: it may have changed since the notification was queued.
    const { url } = await this.#targets();
    if (!url) return; // no URL any more: nowhere to send it
    const where = originOf(url);
    let response: Response;
    try {
      const { target, authorization } = splitCredentials(url);
      response = await fetch(target, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(authorization ? { authorization } : {}),
        },
        body: JSON.stringify(notification),
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.#options.timeoutMs ?? 10_000)]),
      });
    } catch (error) {
      // The error (or its cause) may quote the URL: only its origin is kept.
      const { message, cause } = error as Error & { cause?: Error };
      const reason = (cause?.message ?? message).split(url).join(where);
      throw new Error(`the alarm URL ${where} cannot be reached: ${reason}`);
    }
    await response.body?.cancel();
    if (response.ok) return;
    const message = `the alarm URL ${where} answered ${response.status}`;
    // A request the receiver will never take: trying again cannot help.
    if (response.status >= 400 && response.status < 500 && ![408, 429].includes(response.status))
      throw new PermanentFailure(message);
    throw new Error(message);
  }

  async #mail(notification: AlarmNotification, smtp: SmtpOptions): Promise<void> {
    const { to } = await this.#targets();
    if (!this.#transport || !to) return;
    const { event, code, subject, severity, text, node } = notification;
    const where = node.label || node.host;
    await this.#transport.sendMail({
      from: smtp.from || smtp.user || `appvisor@${node.host}`,
      to,
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
