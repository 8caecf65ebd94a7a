import { readFile, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { z } from 'zod';
import { hasControls } from '../../lib/text-escape.js';
import { AppvisorError } from '../errors/index.js';

/** App ids: 1–64 characters of A-Z a-z 0-9 _ - (specs/app-container.md). */
export const appIdPattern = /^[A-Za-z0-9_-]{1,64}$/;

/** Throws INVALID_APP_ID unless `id` is a valid app id. */
export function checkAppId(id: string): void {
  if (!appIdPattern.test(id)) {
    throw new AppvisorError(
      'INVALID_APP_ID',
      `"${id}" is not a valid app id: use 1 to 64 characters of A-Z a-z 0-9 _ -`,
    );
  }
}

/**
 * Text an app shows the admin (in the CLI, the UI, logs): no control characters, so a package
 * cannot drive the admin's terminal or forge lines; `multiline` allows newlines.
 */
const shownText = (multiline = false) =>
  z.string().refine((text) => !hasControls(text, multiline), {
    message: `must not hold control characters${multiline ? ' (newlines excepted)' : ''}`,
  });

/** `app.json`: optional; unknown keys and wrong types make the package invalid. */
export const manifestSchema = z.strictObject({
  id: z.string().optional(),
  version: shownText().min(1).max(64).optional(),
  title: shownText().max(200).optional(),
  /** What the app does, shown in an app store. */
  description: shownText(true).max(2000).optional(),
  /** An increasing integer that orders versions in an app store: a higher build is newer. */
  build: z.int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  /** A release label shown in an app store: `final`, `beta`, ... */
  label: z
    .string()
    .regex(/^[a-z0-9-]{1,32}$/)
    .optional(),
  instances: z.boolean().optional(),
  web: z
    .strictObject({
      // A folder inside the package: relative, without `..`.
      static: z
        .string()
        .min(1)
        .max(200)
        .refine(
          (path) =>
            !path.startsWith('/') && !path.split('/').includes('..') && !path.includes('\\'),
          {
            message: 'must be a relative folder inside the package',
          },
        ),
    })
    .optional(),
  restart: z
    .strictObject({
      policy: z.enum(['on-failure', 'always', 'never']),
      delaySeconds: z.number().min(0).max(3600),
      maxDelaySeconds: z.number().min(0).max(86_400),
      stableSeconds: z.number().min(0).max(86_400),
      successCodes: z.array(z.int().min(0).max(255)).max(256),
      maxRetries: z.int().min(0).nullable(),
    })
    .partial()
    .optional(),
  stop: z.strictObject({ graceSeconds: z.number().positive().max(3600) }).optional(),
  log: z
    .strictObject({
      maxBytes: z
        .int()
        .min(64 * 1024)
        .max(1024 * 1024 * 1024),
      files: z.int().min(1).max(100),
    })
    .partial()
    .optional(),
  traceFlags: z
    .array(z.string().regex(/^[a-z0-9-]{1,40}$/))
    .max(64)
    .optional(),
  handoff: z.boolean().optional(),
});

export type Manifest = z.output<typeof manifestSchema>;

/**
 * Reads `<folder>/app.json`. A missing file is an empty manifest; anything else that is not a
 * valid manifest is PACKAGE_INVALID naming the key.
 */
export async function readManifest(folder: string, id: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readFile(join(folder, 'app.json'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new AppvisorError(
      'PACKAGE_INVALID',
      `app.json cannot be read: ${(error as Error).message}`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new AppvisorError(
      'PACKAGE_INVALID',
      `app.json is not valid JSON: ${(error as Error).message}`,
    );
  }
  const result = manifestSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const where = issue.path.join('.') || '(top level)';
    const detail =
      issue.code === 'unrecognized_keys' ? `unknown key ${issue.keys.join(', ')}` : issue.message;
    throw new AppvisorError('PACKAGE_INVALID', `app.json: ${where}: ${detail}`);
  }
  if (result.data.id !== undefined && result.data.id !== id) {
    throw new AppvisorError(
      'PACKAGE_INVALID',
      `app.json: id "${result.data.id}" is not the package's id "${id}"`,
    );
  }
  return result.data;
}

/**
 * Refuses (PACKAGE_INVALID) a package whose app.json names a `web.static` folder the package
 * (unpacked in `folder`) does not hold: missing, a file, or a link leading out of the package.
 * Checked at install only: an app installed before keeps working, its front serving nothing.
 */
export async function checkStaticFolder(folder: string, manifest: Manifest): Promise<void> {
  const name = manifest.web?.static;
  if (name === undefined) return;
  const refuse = (why: string) =>
    new AppvisorError(
      'PACKAGE_INVALID',
      `app.json: web.static: "${name}" ${why}: the front would have no files to serve`,
    );
  let root: string;
  let path: string;
  try {
    root = await realpath(folder);
    path = await realpath(join(folder, name));
  } catch {
    throw refuse('is not a folder in the package');
  }
  if (path !== root && !path.startsWith(root + sep)) throw refuse('leads out of the package');
  if (!(await stat(path)).isDirectory()) throw refuse('is not a folder in the package');
}
