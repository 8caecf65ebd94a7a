/**
 * What an import changes, as a list of steps in the order they apply (settings, certificate,
 * stores, apps, instances, backup targets, schedule). Each step says what it changes in words
 * a person checks in a dry run (never a secret) and knows how to undo itself, so a failure
 * part-way puts back every step before it. An import adds and changes; it never removes an
 * app, an instance, a store or a backup target the file does not list (those are reported as
 * kept).
 */
import type { AppSettingsChange } from '../catalog/index.js';
import type { InstanceView } from '../instances/index.js';
import type { PlatformSettingsChange } from '../settings/index.js';
import {
  withoutCredentials,
  type AppPart,
  type ConfigDocument,
  type InstancePart,
  type SecretParts,
  type StorePart,
  targetInput,
  type TargetSecret,
} from './document.js';
import type { TransferPorts } from './ports.js';

/** A value shown in a change (secrets are shown as `(secret)`). */
export type ShownValue = string | number | boolean | null | string[];

/** One line of a plan. */
export interface PlannedChange {
  /** `add`/`install`/`create`: something new; `change`: a value; `keep`: left as it is. */
  action: 'add' | 'install' | 'create' | 'change' | 'keep';
  /** What it is about: `platform`, `certificate`, `store main`, `app echo`, `instance acme`, `backup schedule`. */
  subject: string;
  field?: string;
  from?: ShownValue;
  to?: ShownValue;
  /** The line a dry run prints. */
  text: string;
}

/** A change and how to make and unmake it. */
export interface Step {
  change: PlannedChange;
  apply?: () => Promise<unknown>;
  undo?: () => Promise<unknown>;
}

const secretShown = '(secret)';

function shown(value: ShownValue | undefined): string {
  if (value === undefined) return '-';
  if (Array.isArray(value)) return value.length === 0 ? '[]' : value.join(',');
  return JSON.stringify(value);
}

function changed(subject: string, field: string, from: ShownValue, to: ShownValue): PlannedChange {
  return {
    action: 'change',
    subject,
    field,
    from,
    to,
    text: `~ ${subject} ${field}: ${shown(from)} -> ${shown(to)}`,
  };
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The alarm URL to set: the secret one (with its credentials) while the file's shows the same
 * URL without them; the file's when it was edited. Undefined: leave the current one, which is
 * the file's once its credentials are left out.
 */
function alarmUrlOf(
  current: string,
  document: ConfigDocument,
  secrets: SecretParts | undefined,
): string | undefined {
  const shown = document.platform.alarmUrl;
  const secret = secrets?.alarmUrl;
  const wanted = secret !== undefined && withoutCredentials(secret) === shown ? secret : shown;
  if (wanted === current) return undefined;
  if (wanted === shown && withoutCredentials(current) === shown) return undefined;
  return wanted;
}

async function platformSteps(
  ports: TransferPorts,
  document: ConfigDocument,
  secrets: SecretParts | undefined,
): Promise<Step[]> {
  const current = await ports.settings.get();
  const steps: Step[] = [];
  for (const field of ['label', 'dnsName', 'alarmUrl', 'alarmEmail'] as const) {
    const from = current[field];
    const to =
      field === 'alarmUrl' ? alarmUrlOf(from, document, secrets) : document.platform[field];
    if (to === undefined || from === to) continue;
    const patch = (value: string): PlatformSettingsChange => ({ [field]: value });
    steps.push({
      // An alarm URL is shown without its credentials, which are a secret.
      change:
        field === 'alarmUrl'
          ? changed('platform', field, withoutCredentials(from), withoutCredentials(to))
          : changed('platform', field, from, to),
      apply: () => ports.settings.update(patch(to)),
      undo: () => ports.settings.update(patch(from)),
    });
  }
  return steps;
}

function certificateSteps(ports: TransferPorts, secrets: SecretParts | undefined): Step[] {
  const wanted = secrets?.certificate;
  if (!wanted) return [];
  const before = ports.certificates.pair();
  if (before.cert.trim() === wanted.cert.trim() && before.key.trim() === wanted.key.trim()) {
    return [];
  }
  return [
    {
      change: {
        action: 'change',
        subject: 'certificate',
        from: ports.certificates.status().subject,
        to: secretShown,
        text: '~ certificate: replaced by the one in the file',
      },
      apply: () => ports.certificates.set(wanted.cert, wanted.key),
      undo: () => ports.certificates.set(before.cert, before.key),
    },
  ];
}

async function storeSteps(ports: TransferPorts, document: ConfigDocument): Promise<Step[]> {
  const current = new Map((await ports.sources.list()).map((source) => [source.name, source]));
  const steps: Step[] = [];
  for (const store of document.stores) {
    const before = current.get(store.name);
    const subject = `store ${store.name}`;
    if (before && sameSource(before, store)) continue;
    steps.push({
      change: urlChange(
        subject,
        before?.url,
        store.url,
        before
          ? `${before.url} (${before.keys.length} keys) -> ${store.url} (${store.keys.length} keys)`
          : store.url,
      ),
      apply: () => ports.sources.put(store),
      undo: async () => {
        if (before) await ports.sources.put(before);
        else await ports.sources.remove(store.name);
      },
    });
  }
  return [...steps, ...notListed('store', current.keys(), document.stores)];
}

function sameSource(a: StorePart, b: StorePart): boolean {
  return (
    a.url === b.url &&
    a.allowUnsigned === b.allowUnsigned &&
    same([...a.keys].sort(), [...b.keys].sort())
  );
}

function kept(subject: string, why = 'not in the file'): PlannedChange {
  return { action: 'keep', subject, text: `= ${subject}: kept (${why})` };
}

/** The line of a named thing with a URL (a store, a backup target): added, or changed. */
function urlChange(
  subject: string,
  from: string | undefined,
  to: string,
  detail: string,
): PlannedChange {
  return from === undefined
    ? { action: 'add', subject, to, text: `+ ${subject}: ${detail}` }
    : { action: 'change', subject, from, to, text: `~ ${subject}: ${detail}` };
}

/** A `keep` line for each of `names` (what the platform has) that the file does not list. */
function notListed(
  what: string,
  names: Iterable<string>,
  listed: readonly { name: string }[],
): Step[] {
  return [...names]
    .filter((name) => !listed.some((item) => item.name === name))
    .map((name) => ({ change: kept(`${what} ${name}`) }));
}

const appFields = [
  'autostart',
  'logMaxBytes',
  'logFiles',
  'memoryMaxBytes',
  'cpuWeight',
  'pidsMax',
] as const;

function settingsOf(app: AppPart): Required<AppSettingsChange> {
  return Object.fromEntries(
    appFields.map((field) => [field, app[field]]),
  ) as Required<AppSettingsChange>;
}

async function appSteps(ports: TransferPorts, document: ConfigDocument): Promise<Step[]> {
  const installed = new Map((await ports.apps.list()).map((app) => [app.id, app]));
  const steps: Step[] = [];
  for (const app of document.apps) {
    const subject = `app ${app.id}`;
    const present = installed.get(app.id);
    if (!present) {
      const store = app.store!;
      const version = app.build !== null ? String(app.build) : (app.version ?? undefined);
      let installed = false;
      steps.push({
        change: {
          action: 'install',
          subject,
          to: app.version,
          text: `+ ${subject} ${app.version ?? 'newest'}${app.build === null ? '' : ` (build ${app.build})`} from the store ${store}`,
        },
        apply: async () => {
          await ports.appStore.install(app.id, { store, version, autostart: app.autostart });
          installed = true;
          // autostart came with the install; the rest are the app's own settings.
          const { logMaxBytes, logFiles, memoryMaxBytes, cpuWeight, pidsMax } = app;
          await ports.apps.configure(app.id, {
            logMaxBytes,
            logFiles,
            memoryMaxBytes,
            cpuWeight,
            pidsMax,
          });
        },
        // A failed install rolled itself back; only an app this step installed goes.
        undo: async () => {
          if (installed) await ports.apps.uninstall(app.id, { force: true });
        },
      });
      continue;
    }
    if (app.version !== null && present.version !== app.version) {
      steps.push({
        change: kept(
          subject,
          `${present.version ?? 'no version'} is installed, the file says ${app.version}; change versions with "appvisor store install"`,
        ),
      });
    }
    const before = ports.apps.settingsOf(app.id);
    const wanted = settingsOf(app);
    for (const field of appFields) {
      if (before[field] === wanted[field]) continue;
      steps.push({
        change: changed(subject, field, before[field], wanted[field]),
        apply: () => ports.apps.configure(app.id, { [field]: wanted[field] }),
        undo: () => ports.apps.configure(app.id, { [field]: before[field] }),
      });
    }
  }
  for (const id of installed.keys()) {
    if (!document.apps.some((app) => app.id === id)) steps.push({ change: kept(`app ${id}`) });
  }
  return steps;
}

function traceChanges(from: readonly string[], to: readonly string[]): string[] {
  return [
    ...to.filter((flag) => !from.includes(flag)).map((flag) => `+${flag}`),
    ...from.filter((flag) => !to.includes(flag)).map((flag) => `-${flag}`),
  ];
}

/**
 * Where the plan says a new instance goes: on a cluster, the file's node when it can take it,
 * else the node placement chooses and why. A platform of one node has no choice to show.
 */
async function placedText(ports: TransferPorts, instance: InstancePart): Promise<string> {
  const pin = ports.instances.pin?.bind(ports.instances);
  if (instance.node === undefined || pin === undefined) return '';
  const outcome = await pin(instance.app, instance.node);
  if (outcome.node !== undefined) return ` on node ${outcome.node}`;
  return ` on the node placement chooses (${outcome.refused ?? `not node ${instance.node}`})`;
}

async function newInstanceStep(
  ports: TransferPorts,
  instance: InstancePart,
  password: string | undefined,
): Promise<Step> {
  const subject = `instance ${instance.id}`;
  const placed = await placedText(ports, instance);
  let made = false;
  return {
    change: {
      action: 'create',
      subject,
      to: instance.path,
      text: `+ ${subject} of ${instance.app} at ${instance.domain}${instance.path}${placed}${password === undefined ? ' (new password)' : ''}${instance.enabled ? '' : ', disabled'}`,
    },
    apply: async () => {
      const { id, app, domain, path, node } = instance;
      // The file's node is asked for again now: the plan's answer may be out of date.
      await ports.instances.create(
        app,
        id,
        { domain, path, ...(password === undefined ? {} : { password }) },
        node === undefined ? undefined : { node },
      );
      made = true;
      if (!instance.enabled || instance.excludeFromBackup) {
        await ports.instances.set(id, {
          enabled: instance.enabled,
          excludeFromBackup: instance.excludeFromBackup,
        });
      }
      const trace = traceChanges([], instance.traceFlags);
      if (trace.length > 0) await ports.instances.trace(id, trace);
    },
    // Only what this step made: a failed create undid itself, and an instance of that id
    // made meanwhile by someone else is theirs.
    undo: async () => {
      if (made) await ports.instances.delete(instance.id);
    },
  };
}

async function instanceFieldSteps(
  ports: TransferPorts,
  instance: InstancePart,
  view: InstanceView,
  password: string | undefined,
): Promise<Step[]> {
  const subject = `instance ${instance.id}`;
  const steps: Step[] = [];
  // An import never moves an instance: that is "instance move", with its own checks.
  if (instance.node !== undefined && view.node !== undefined && instance.node !== view.node) {
    steps.push({
      change: kept(
        `${subject} node`,
        `it is on node ${view.node}, the file says ${instance.node}; move it with "appvisor instance move"`,
      ),
    });
  }
  for (const field of ['domain', 'path', 'enabled', 'excludeFromBackup'] as const) {
    const from = view[field];
    const to = instance[field];
    if (from === to) continue;
    steps.push({
      change: changed(subject, field, from, to),
      apply: () => ports.instances.set(instance.id, { [field]: to }),
      undo: () => ports.instances.set(instance.id, { [field]: from }),
    });
  }
  const from = [...view.traceFlags].sort();
  const to = [...instance.traceFlags].sort();
  if (!same(from, to)) {
    steps.push({
      change: changed(subject, 'traceFlags', from, to),
      apply: () => ports.instances.trace(instance.id, traceChanges(from, to)),
      undo: () => ports.instances.trace(instance.id, traceChanges(to, from)),
    });
  }
  // Asked only when the file has one: on a cluster each show may be a call to another node.
  if (password === undefined) return steps;
  const old = (await ports.instances.show(instance.id, { reveal: true })).password;
  if (old !== undefined && old !== password) {
    steps.push({
      change: changed(subject, 'password', secretShown, secretShown),
      apply: () => ports.instances.set(instance.id, { password }),
      undo: () => ports.instances.set(instance.id, { password: old }),
    });
  }
  return steps;
}

async function instanceSteps(
  ports: TransferPorts,
  document: ConfigDocument,
  secrets: SecretParts | undefined,
  views: readonly InstanceView[],
): Promise<Step[]> {
  const current = new Map(views.map((view) => [view.id, view]));
  const steps: Step[] = [];
  for (const instance of document.instances) {
    const password = secrets?.instancePasswords[instance.id];
    const view = current.get(instance.id);
    if (view) steps.push(...(await instanceFieldSteps(ports, instance, view, password)));
    else steps.push(await newInstanceStep(ports, instance, password));
  }
  for (const id of current.keys()) {
    if (!document.instances.some((instance) => instance.id === id)) {
      steps.push({ change: kept(`instance ${id}`) });
    }
  }
  return steps;
}

function hasCredentials(credentials: TargetSecret): boolean {
  return Object.keys(credentials).length > 0;
}

/**
 * The backup targets of the file, added or set whole. Credentials: the secrets block's for
 * the target; without them, a target of that name here keeps its own while its URL and
 * endpoint are the same (they are for that server only), else the target has none. A file
 * without `backupTargets` leaves every target as it is.
 */
async function targetSteps(
  ports: TransferPorts,
  document: ConfigDocument,
  secrets: SecretParts | undefined,
): Promise<Step[]> {
  const current = new Map((await ports.backups.listTargets()).map((t) => [t.name, t]));
  const listed = document.backupTargets ?? [];
  const steps: Step[] = [];
  for (const target of listed) {
    const subject = `backup target ${target.name}`;
    const before = current.get(target.name);
    const old = before?.credentials ? await ports.backups.targetCredentials(target.name) : {};
    const sameServer =
      before !== undefined && before.url === target.url && before.endpoint === target.endpoint;
    const wanted = secrets?.backupTargets?.[target.name] ?? (sameServer ? old : {});
    const fields = (['url', 'endpoint', 'region', 'pathStyle'] as const).filter(
      (field) => before !== undefined && before[field] !== target[field],
    );
    const credentialsChange = !same(old, wanted);
    if (before && fields.length === 0 && !credentialsChange) continue;
    const none = hasCredentials(wanted) ? '' : ' (no credentials)';
    const what = [
      ...fields.map((field) => `${field} ${shown(before?.[field])} -> ${shown(target[field])}`),
      ...(credentialsChange
        ? [
            `credentials ${hasCredentials(old) ? secretShown : 'none'} -> ${hasCredentials(wanted) ? secretShown : 'none'}`,
          ]
        : []),
    ];
    let made = false;
    steps.push({
      change: urlChange(
        subject,
        before?.url,
        target.url,
        before ? what.join(', ') : `${target.url}${none}`,
      ),
      apply: async () => {
        await ports.backups.putTarget(targetInput(target, wanted));
        made = true;
      },
      // A changed target is set back whole; an added one goes only if this step made it.
      undo: async () => {
        if (before) await ports.backups.putTarget(targetInput(before, old));
        else if (made) await ports.backups.removeTarget(target.name);
      },
    });
  }
  return [...steps, ...notListed('backup target', current.keys(), listed)];
}

function scheduleSteps(ports: TransferPorts, document: ConfigDocument): Step[] {
  const { cron, template, slots, keep, verify, target } = ports.backups.schedule();
  const before = { cron, template, slots, keep, verify, target };
  const wanted = document.backupSchedule;
  const steps: Step[] = [];
  for (const field of ['cron', 'template', 'slots', 'keep', 'verify', 'target'] as const) {
    // A file without the schedule's target (an older manager's) leaves it as it is.
    if (wanted[field] === undefined || before[field] === wanted[field]) continue;
    steps.push({
      change: changed('backup schedule', field, before[field], wanted[field]),
      apply: () => ports.backups.setSchedule({ [field]: wanted[field] }),
      undo: () => ports.backups.setSchedule({ [field]: before[field] }),
    });
  }
  return steps;
}

/**
 * Every step of importing `document` into the platform as it is now, in order. `instances`
 * are the platform's instances as the checks read them (on a cluster, every node's): read
 * once, so that the checks and the plan agree.
 */
export async function planImport(
  ports: TransferPorts,
  document: ConfigDocument,
  secrets: SecretParts | undefined,
  instances: readonly InstanceView[],
): Promise<Step[]> {
  return [
    ...(await platformSteps(ports, document, secrets)),
    ...certificateSteps(ports, secrets),
    ...(await storeSteps(ports, document)),
    ...(await appSteps(ports, document)),
    ...(await instanceSteps(ports, document, secrets, instances)),
    ...(await targetSteps(ports, document, secrets)),
    ...scheduleSteps(ports, document),
  ];
}
