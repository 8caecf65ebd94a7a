/**
 * Checks a configuration file against the platform's rules and its current state before
 * anything changes: every value with the subsystem's own check (the same words as the API's),
 * ids and paths unique, every instance's app present or installable. A problem is
 * IMPORT_INVALID (the file is wrong) or IMPORT_CONFLICT (the file is right but this platform
 * cannot take it as it is), naming the key and its line.
 */
import { Cron } from 'croner';
import { checkSource } from '../appstore/index.js';
import { checkTarget, checkTemplate } from '../backup/index.js';
import { checkAppId } from '../catalog/index.js';
import { AppvisorError } from '../errors/index.js';
import {
  checkInstanceId,
  checkPassword,
  normalizeDomain,
  normalizePath,
  type InstanceView,
} from '../instances/index.js';
import { checkAlarmEmail, checkAlarmUrl, checkDnsName, checkLabel } from '../settings/index.js';
import { validateCertificate } from '../tls/index.js';
import {
  invalidAt,
  keyPath,
  targetInput,
  type ConfigDocument,
  type SecretParts,
} from './document.js';
import { lineOf } from './json-lines.js';

/** What the checks need to know of the platform now. */
export interface CurrentState {
  /** Installed apps by id: their version. */
  apps: Map<string, { version: string | null }>;
  /** Names of the configured stores. */
  stores: Set<string>;
  instances: Map<string, InstanceView>;
  /** Names of the backup targets. */
  targets: Set<string>;
}

/** The document with its values normalized the way the platform stores them. */
export interface CheckedDocument {
  document: ConfigDocument;
  secrets: SecretParts | undefined;
}

/** Runs `check`; a core refusal becomes IMPORT_INVALID at `path`. */
function at(text: string | undefined, path: PropertyKey[], check: () => void): void {
  try {
    check();
  } catch (error) {
    if (error instanceof AppvisorError) throw invalidAt(text, path, error.message);
    throw error;
  }
}

function conflict(text: string | undefined, path: PropertyKey[], message: string): AppvisorError {
  const key = keyPath(path);
  const line = text === undefined ? undefined : lineOf(text, path);
  return new AppvisorError(
    'IMPORT_CONFLICT',
    `${line === undefined ? key : `${key} (line ${line})`}: ${message}`,
    { field: key },
  );
}

/** The first repeated value of `values` at index, if any. */
function firstRepeat(values: string[]): number | undefined {
  const seen = new Set<string>();
  for (const [index, value] of values.entries()) {
    if (seen.has(value)) return index;
    seen.add(value);
  }
  return undefined;
}

function checkPlatform(document: ConfigDocument, text?: string): void {
  const { platform } = document;
  at(text, ['platform', 'label'], () => (platform.label = checkLabel(platform.label)));
  at(text, ['platform', 'dnsName'], () => (platform.dnsName = checkDnsName(platform.dnsName)));
  at(text, ['platform', 'alarmUrl'], () => (platform.alarmUrl = checkAlarmUrl(platform.alarmUrl)));
  at(
    text,
    ['platform', 'alarmEmail'],
    () => (platform.alarmEmail = checkAlarmEmail(platform.alarmEmail)),
  );
  document.stores.forEach((store, index) => {
    at(text, ['stores', index], () => {
      Object.assign(store, checkSource(store));
    });
  });
  const repeated = firstRepeat(document.stores.map((store) => store.name));
  if (repeated !== undefined)
    throw invalidAt(text, ['stores', repeated, 'name'], 'a store of this name is listed twice');
  const schedule = document.backupSchedule;
  at(text, ['backupSchedule', 'template'], () => {
    checkTemplate(schedule.template);
  });
  if (schedule.cron !== null) {
    const cron = schedule.cron;
    at(text, ['backupSchedule', 'cron'], () => {
      try {
        new Cron(cron, { paused: true }).stop();
      } catch (error) {
        throw new AppvisorError(
          'IMPORT_INVALID',
          `not a cron expression: ${(error as Error).message}`,
        );
      }
    });
  }
}

function checkApps(document: ConfigDocument, state: CurrentState, text?: string): void {
  const stores = new Set([...state.stores, ...document.stores.map((store) => store.name)]);
  document.apps.forEach((app, index) => {
    at(text, ['apps', index, 'id'], () => {
      checkAppId(app.id);
    });
    if (state.apps.has(app.id)) return;
    if (app.store === null) {
      throw conflict(
        text,
        ['apps', index, 'store'],
        `${app.id} is not installed here and came from a package file, not a store: install it with "appvisor app install" first`,
      );
    }
    if (!stores.has(app.store)) {
      throw conflict(
        text,
        ['apps', index, 'store'],
        `${app.id} is to be installed from the store "${app.store}", which neither the file nor this platform has`,
      );
    }
  });
  const repeated = firstRepeat(document.apps.map((app) => app.id));
  if (repeated !== undefined)
    throw invalidAt(text, ['apps', repeated, 'id'], 'this app is listed twice');
}

function checkInstances(document: ConfigDocument, state: CurrentState, text?: string): void {
  const apps = new Set([...state.apps.keys(), ...document.apps.map((app) => app.id)]);
  const inFile = new Set(document.instances.map((instance) => instance.id));
  const pathOwners = new Map<string, string>();
  for (const view of state.instances.values()) {
    if (!inFile.has(view.id)) pathOwners.set(view.path, view.id);
  }
  document.instances.forEach((instance, index) => {
    const path = (key: string) => ['instances', index, key];
    at(text, path('id'), () => {
      checkInstanceId(instance.id);
    });
    at(text, path('domain'), () => (instance.domain = normalizeDomain(instance.domain)));
    at(text, path('path'), () => (instance.path = normalizePath(instance.path)));
    if (!apps.has(instance.app)) {
      throw conflict(text, path('app'), `no app "${instance.app}" is installed or in the file`);
    }
    const existing = state.instances.get(instance.id);
    if (existing && existing.app !== instance.app) {
      throw conflict(
        text,
        path('app'),
        `the instance ${instance.id} exists here as an instance of ${existing.app}; an instance cannot change its app`,
      );
    }
    const owner = pathOwners.get(instance.path);
    if (owner !== undefined) {
      throw conflict(
        text,
        path('path'),
        `${instance.path} is ${owner === instance.id ? 'listed twice' : `the path of the instance ${owner}`}`,
      );
    }
    pathOwners.set(instance.path, instance.id);
  });
  const repeated = firstRepeat(document.instances.map((instance) => instance.id));
  if (repeated !== undefined)
    throw invalidAt(text, ['instances', repeated, 'id'], 'this instance is listed twice');
}

/** The keys of a target in the file; an error of another field is a credential's. */
const targetKeys = new Set(['name', 'url', 'endpoint', 'region', 'pathStyle']);

/**
 * Each backup target with `target add`'s checks (its credentials from the secrets block
 * too), normalized in place; a name listed twice is refused.
 */
function checkTargets(
  document: ConfigDocument,
  secrets: SecretParts | undefined,
  text?: string,
): void {
  const targets = document.backupTargets;
  if (targets === undefined) return;
  // First: the secrets block's credentials are by name, so a repeated name would mix them up.
  const repeated = firstRepeat(targets.map((target) => target.name));
  if (repeated !== undefined) {
    throw invalidAt(
      text,
      ['backupTargets', repeated, 'name'],
      'a backup target of this name is listed twice',
    );
  }
  targets.forEach((target, index) => {
    const credentials = secrets?.backupTargets?.[target.name] ?? {};
    try {
      Object.assign(target, checkTarget(targetInput(target, credentials)));
    } catch (error) {
      if (!(error instanceof AppvisorError)) throw error;
      const field = error.field ?? '';
      // A credential's problem is the secrets block's: no line to name, no value to show.
      if (!targetKeys.has(field)) {
        throw invalidAt(undefined, ['secrets', 'backupTargets', target.name], error.message);
      }
      throw invalidAt(text, ['backupTargets', index, field], error.message);
    }
  });
}

function checkSecrets(document: ConfigDocument, secrets: SecretParts | undefined): void {
  if (!secrets) return;
  if (secrets.certificate) {
    const { cert, key } = secrets.certificate;
    at(undefined, ['secrets', 'certificate'], () => {
      validateCertificate(cert, key);
    });
  }
  const ids = new Set(document.instances.map((instance) => instance.id));
  for (const [id, password] of Object.entries(secrets.instancePasswords)) {
    if (!ids.has(id)) continue;
    at(undefined, ['secrets', 'instancePasswords', id], () => {
      checkPassword(password);
    });
  }
}

/**
 * Checks the whole document (normalizing domains, paths and settings in place) and throws at
 * the first problem; nothing of the platform is changed.
 */
export function checkDocument(
  document: ConfigDocument,
  secrets: SecretParts | undefined,
  state: CurrentState,
  text?: string,
): CheckedDocument {
  checkPlatform(document, text);
  checkApps(document, state, text);
  checkInstances(document, state, text);
  checkTargets(document, secrets, text);
  const scheduled = document.backupSchedule.target;
  const targets = new Set([...state.targets, ...(document.backupTargets ?? []).map((t) => t.name)]);
  if (typeof scheduled === 'string' && !targets.has(scheduled)) {
    throw conflict(
      text,
      ['backupSchedule', 'target'],
      `scheduled backups go to the backup target "${scheduled}", which neither the file nor this platform has`,
    );
  }
  checkSecrets(document, secrets);
  return { document, secrets };
}
