/**
 * The UI's one way to the manager: the REST API under /manager/api/v1, with the session cookie.
 * Its types are the API's own (type imports only: no code of the manager reaches the browser).
 */
import type { ErrorBody } from '../../src/api/types.js';

export type * from '../../src/api/types.js';

/** Base of every API route. */
export const apiBase = '/manager/api/v1';

/** A failed request: the API's code, message and (when it concerns one) field. */
export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  readonly field: string | undefined;

  constructor(status: number, body: ErrorBody) {
    super(body.message);
    this.name = 'ApiError';
    this.code = body.code;
    this.status = status;
    this.field = body.field;
  }
}

/** Called when the login has ended (401 UNAUTHORIZED on any call): the app shows the login. */
let onUnauthorized: (message: string) => void = () => undefined;

/** Sets what happens when a call finds the login gone. */
export function whenUnauthorized(handler: (message: string) => void): void {
  onUnauthorized = handler;
}

/** The error of an answer that is not 2xx, from its JSON body when it has one. */
async function failure(response: Response): Promise<ApiError> {
  let body: ErrorBody = {
    code: response.status >= 500 ? 'INTERNAL' : 'BAD_REQUEST',
    message: `the manager answered ${response.status} ${response.statusText}`,
  };
  try {
    const parsed = (await response.json()) as Partial<ErrorBody>;
    if (typeof parsed.code === 'string' && typeof parsed.message === 'string')
      body = parsed as ErrorBody;
  } catch {
    // Not JSON (a proxy's page): keep the status line.
  }
  const error = new ApiError(response.status, body);
  if (error.code === 'UNAUTHORIZED') onUnauthorized(error.message);
  return error;
}

function unreachable(cause: unknown): ApiError {
  return new ApiError(0, {
    code: 'MANAGER_UNREACHABLE',
    message: `the manager does not answer (${cause instanceof Error ? cause.message : String(cause)})`,
  });
}

/** Calls a route with a JSON body (when given) and answers its JSON. */
export async function call<T>(
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
  init: { signal?: AbortSignal } = {},
): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${apiBase}${path}`, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
      signal: init.signal ?? null,
    });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw unreachable(error);
  }
  if (!response.ok) throw await failure(response);
  return (await response.json()) as T;
}

/** `encodeURIComponent` for ids in paths. */
export const id = (value: string): string => encodeURIComponent(value);

/**
 * Uploads an app package to `POST /apps` with XMLHttpRequest, whose upload events tell the
 * progress (fetch cannot). `onProgress` gets the sent share, 0 to 1; after 1 the manager unpacks.
 */
export function uploadPackage<T>(
  file: File,
  query: Record<string, string>,
  onProgress: (share: number) => void,
): Promise<T> {
  const search = new URLSearchParams(query).toString();
  return uploadFile<T>('POST', `/apps${search ? `?${search}` : ''}`, file, onProgress);
}

/** The path of a backup archive's file (`GET` downloads it, `PUT` uploads one). */
export const archivePath = (file: string): string =>
  `/backups/files/${file.split('/').map(encodeURIComponent).join('/')}`;

/**
 * Sends a file as the body of `method path` (octet-stream) with XMLHttpRequest, whose upload
 * events tell the progress: `onProgress` gets the sent share, 0 to 1; after 1 the manager
 * works on it. Answers the route's JSON.
 */
export function uploadFile<T>(
  method: 'POST' | 'PUT',
  path: string,
  file: File,
  onProgress: (share: number) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, `${apiBase}${path}`);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.upload.onload = () => {
      onProgress(1);
    };
    xhr.onerror = () => {
      reject(unreachable(new Error('the upload was cut off')));
    };
    xhr.onload = () => {
      let body: unknown;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = undefined;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(body as T);
        return;
      }
      const error = new ApiError(
        xhr.status,
        (body as ErrorBody | undefined) ?? {
          code: 'INTERNAL',
          message: `the manager answered ${xhr.status}`,
        },
      );
      if (error.code === 'UNAUTHORIZED') onUnauthorized(error.message);
      reject(error);
    };
    xhr.send(file);
  });
}

/**
 * Follows an app's log (`GET /apps/:id/logs?follow=true`): calls `onText` with each chunk of
 * text as it arrives, until `signal` aborts or the manager ends the answer.
 */
export async function followLog(
  app: string,
  lines: number,
  onText: (text: string) => void,
  signal: AbortSignal,
): Promise<void> {
  let response: Response;
  try {
    response = await fetch(`${apiBase}/apps/${id(app)}/logs?lines=${lines}&follow=true`, {
      credentials: 'same-origin',
      signal,
    });
  } catch (error) {
    if ((error as Error).name === 'AbortError') return;
    throw unreachable(error);
  }
  if (!response.ok || !response.body) throw await failure(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      onText(value);
    }
  } catch (error) {
    if ((error as Error).name === 'AbortError') return;
    throw unreachable(error);
  } finally {
    reader.releaseLock();
  }
}

/** The message of anything thrown, for showing. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
