import { signalGroup, type ProcessHandle } from '../supervisor/index.js';
import { parseServiceMessage, type ServiceMessageOf } from '../../lib/service-protocol.js';
import type { AppContext } from './context.js';
import { httpSocketPath } from './sdk.js';
import {
  defaultServiceLimits,
  MessageLimiter,
  type MessageKind,
  type ServiceLimits,
} from './service-limits.js';
import type { LoadedApp, ServiceChannel } from './types.js';

/** The limits of what one service may send (config `services`). */
export function serviceLimitsOf(ctx: AppContext): ServiceLimits {
  return ctx.options.serviceLimits ?? defaultServiceLimits;
}

/** The rate limits of one app's messages, which report to the app's log, events and alarms. */
export function messageLimiter(ctx: AppContext, app: () => LoadedApp): MessageLimiter {
  return new MessageLimiter({
    limits: serviceLimitsOf(ctx),
    report: (dropped, windowMs) => {
      reportDrops(ctx, app(), dropped, windowMs);
    },
    flooding: (dropped) => {
      misbehaved(ctx, app(), `sent ${dropped} messages over its limits within 10 s`);
    },
  });
}

/**
 * Opens the IPC channel to a service process that was just spawned: its messages are read from
 * now on (see {@link onServiceMessage}) and a breach of the channel's protocol ends it.
 */
export function openChannel(ctx: AppContext, app: LoadedApp, process: ProcessHandle): void {
  if (!process.send || !process.onMessage) return;
  const send = process.send.bind(process);
  const channel: ServiceChannel = {
    send: (message) => send(message),
    // Once the descriptor has left, this process's socket is closed for good (its handle is
    // closed by Node already; destroy() also tells its listeners).
    sendSocket: (message, socket) =>
      send(message, socket, () => {
        socket.destroy();
      }),
  };
  app.channel = channel;
  process.onMessage((message) => {
    // Thrown out of the channel's 'message' event, an error would reach the process.
    try {
      onServiceMessage(ctx, app, channel, message);
    } catch (error) {
      ctx.options.logger.error(
        { err: error, app: app.record.id },
        'a message of the service could not be handled',
      );
    }
  });
  process.onViolation?.((_reason, detail) => {
    misbehaved(ctx, app, `sent ${detail}`, false);
  });
}

/** The service's process has ended: its channel is closed, and the instances are told. */
export function closeChannel(ctx: AppContext, app: LoadedApp): void {
  if (!app.channel) return;
  app.channel = undefined;
  app.httpSocket = null;
  app.handoff = undefined;
  ctx.emitter.emit('service.gone', { app: app.record.id });
}

/**
 * A message of a service (docs/service-protocol.md); nothing of it is trusted. Every message
 * that is an object, `ready` and unknown types included, passes the app's rate limits first,
 * by the `type` it claims; then it is parsed once (lib/service-protocol.ts: what a service
 * means by a sloppy message is decided there, and what it cannot mean is ignored). `ready`
 * and `log` are the app service's own, the rest goes to the subsystems above as
 * `service.message`, typed.
 */
export function onServiceMessage(
  ctx: AppContext,
  app: LoadedApp,
  channel: ServiceChannel,
  message: unknown,
): void {
  if (typeof message !== 'object' || message === null || app.channel !== channel) return;
  if (!app.limiter.admit((message as { type?: unknown }).type)) return;
  const parsed = parseServiceMessage(message);
  if (!parsed.ok) return;
  const body = parsed.message;
  switch (body.type) {
    case 'ready':
      serviceReady(ctx, app, channel, body);
      break;
    case 'log':
      serviceLog(ctx, app, body);
      break;
    default:
      ctx.emitter.emit('service.message', { app: app.record.id, message: body });
      break;
  }
}

function serviceReady(
  ctx: AppContext,
  app: LoadedApp,
  channel: ServiceChannel,
  body: ServiceMessageOf<'ready'>,
): void {
  clearTimeout(app.readyTimer);
  // The front connects only to the socket assigned in APPVISOR_HTTP_SOCKET, in the app's own
  // folder: a path the service names could be the admin socket or another app's.
  const assigned = httpSocketPath(ctx.options.runDir, app.record.id);
  const named = body.httpSocket;
  if (named !== null && named !== assigned) {
    app.log.note(
      `the service named another HTTP socket; the front connects only to ${assigned} (APPVISOR_HTTP_SOCKET)`,
    );
  }
  app.httpSocket = named !== null ? assigned : null;
  app.handoff = body.handoff
    ? (message, socket) => {
        if (!channel.sendSocket(message, socket) && app.channel !== channel) socket.destroy();
      }
    : undefined;
  app.log.note(`service ready${app.httpSocket ? `, HTTP on ${app.httpSocket}` : ''}`);
  app.supervisor.ready();
  ctx.emitter.emit('service.ready', { app: app.record.id, channel });
}

/**
 * A service's `log` line, written to the app's log under the instance it names when that
 * instance is the app's own, else under the app (AppLog escapes control characters and cuts
 * long lines).
 */
function serviceLog(ctx: AppContext, app: LoadedApp, body: ServiceMessageOf<'log'>): void {
  const { id } = app.record;
  const { instance, flag, text } = body;
  const own = instance !== undefined && ctx.options.instances?.()?.appOf(instance) === id;
  ctx.apps
    .get(id)
    ?.log.write(own ? instance : id, flag !== null && flag !== 'app' ? `${flag}: ${text}` : text);
}

/** A service that never says `ready` is killed, which counts as a failed start. */
export function armReadyTimeout(ctx: AppContext, app: LoadedApp): void {
  if (!app.manifest.instances) return;
  clearTimeout(app.readyTimer);
  const pid = app.supervisor.pid;
  app.readyTimer = setTimeout(() => {
    if (app.supervisor.state !== 'starting' || app.supervisor.pid !== pid || pid === null) return;
    app.log.note('the service did not say ready in time: killing it');
    ctx.options.events.record({
      kind: 'app.ready-timeout',
      severity: 'error',
      subject: app.record.id,
      text: `${app.record.id} did not become ready in time`,
    });
    signalGroup(pid, 'SIGKILL');
  }, ctx.options.readyTimeoutMs ?? 30_000);
  app.readyTimer.unref();
}

/** Tells of the messages a service's limits dropped: one note and one event per window. */
function reportDrops(
  ctx: AppContext,
  app: LoadedApp,
  dropped: Record<MessageKind, number>,
  windowMs: number,
): void {
  const { id } = app.record;
  const total = Object.values(dropped).reduce((sum, count) => sum + count, 0);
  const parts = Object.entries(dropped)
    .filter(([, count]) => count > 0)
    .map(([kind, count]) => `${count} ${kind}`)
    .join(', ');
  const text = `${total} messages from ${id} dropped within ${windowMs / 1000} s, over the limits of config services (${parts})`;
  app.log.note(text);
  ctx.options.events.record({
    kind: 'app.messages-dropped',
    severity: 'warning',
    subject: id,
    text,
  });
}

/**
 * A service broke the protocol or its limits on purpose or by a bug: it is ended at once
 * (SIGKILL to its group; the supervisor restarts it with its back-off) and the
 * `service-misbehaved` alarm is raised until the admin starts, stops or restarts the app.
 */
function misbehaved(ctx: AppContext, app: LoadedApp, why: string, kill = true): void {
  const { id } = app.record;
  const text = `${id} ${why}: the manager ended it`;
  app.log.note(text);
  ctx.options.events.record({ kind: 'app.misbehaved', severity: 'error', subject: id, text });
  ctx.options.alarms.raise('service-misbehaved', 'error', text, id);
  const pid = app.supervisor.pid;
  if (kill && pid !== null) {
    try {
      signalGroup(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
