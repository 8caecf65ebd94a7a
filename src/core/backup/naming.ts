/** Where a new backup goes: its template expanded, a rolling slot chosen. */
import { stat } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import { resolve, sep } from 'node:path';
import { AppvisorError } from '../errors/index.js';
import type { InstanceView } from '../instances/index.js';
import type { BackupContext } from './context.js';
import { expandTemplate, usesSlots, type TemplateValues } from './template.js';

/** A MAC address of this machine (`#m`): the first non-internal one, lowercase hex. */
function macAddress(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (!address.internal && address.mac !== '00:00:00:00:00:00') {
        return address.mac.replace(/:/g, '').toLowerCase();
      }
    }
  }
  return '000000000000';
}

/** The default platform label: the machine's name. */
export function defaultLabel(): string {
  return hostname();
}

/** The values of a backup's name template for `view`, now (slot 0). */
export async function templateValues(
  ctx: BackupContext,
  view: InstanceView,
): Promise<TemplateValues> {
  return {
    label: await ctx.options.label(),
    app: view.app,
    instance: view.id,
    domain: view.domain,
    mac: macAddress(),
    time: new Date(ctx.clock.now()),
    slot: 0,
  };
}

/**
 * The file a backup of `view` goes to (relative to the backup folder), and its path; with
 * rolling slots (`#bn`), the first missing slot or else the oldest. TEMPLATE_INVALID when the
 * name leaves the backup folder.
 */
export async function targetOf(
  ctx: BackupContext,
  view: InstanceView,
  template: string,
  slots: number,
): Promise<{ file: string; path: string }> {
  const values = await templateValues(ctx, view);
  const pathOf = (file: string) => {
    const path = resolve(ctx.folder, file);
    if (!path.startsWith(`${resolve(ctx.folder)}${sep}`)) {
      throw new AppvisorError('TEMPLATE_INVALID', `"${template}" leaves the backup folder`, {
        field: 'template',
      });
    }
    return path;
  };
  if (!usesSlots(template)) {
    const file = expandTemplate(template, values);
    return { file, path: pathOf(file) };
  }
  let best: { file: string; path: string; mtime: number } | undefined;
  for (let slot = 0; slot < slots; slot++) {
    const file = expandTemplate(template, { ...values, slot });
    const path = pathOf(file);
    const found = await stat(path).catch(() => null);
    if (!found) return { file, path };
    if (!best || found.mtimeMs < best.mtime) best = { file, path, mtime: found.mtimeMs };
  }
  return best!;
}
