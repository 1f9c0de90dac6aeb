/**
 * The transport between the page and Python.
 *
 * Two ways in, one typed result:
 * - pywebview (desktop window): `window.pywebview.api.call(method, payload)` resolves to
 *   `{ok: true, result}` or `{ok: false, error: ApiError}`. It appears asynchronously, so it is looked
 *   up at every call; until it is there the local HTTP server answers (it is the same server).
 * - fetch (browser, `pixup serve`; also the window): `POST /api/<method>` with the request as JSON and
 *   `Authorization: Bearer <token>`; 200 = the response, anything else = an `ApiError` JSON.
 *
 * Uploads and image URLs always go through the HTTP server (both hosts serve it).
 */
import type { BridgeMethod, BridgeMethods } from './bridge';
import type { ApiError, UploadResult } from './types';

export type MethodRequest<M extends BridgeMethod> = BridgeMethods[M]['request'];
export type MethodResponse<M extends BridgeMethod> = BridgeMethods[M]['response'];

/** `ApiError.code`, plus `network` when no reply came back at all. */
export type ApiErrorCode = ApiError['code'] | 'network';

export class ApiCallError extends Error {
  readonly code: ApiErrorCode;
  /** `ApiError.kind`: which failure, when the request failed on what it asked (unknown model...). */
  readonly kind: ApiError['kind'];

  constructor(code: ApiErrorCode, message: string, kind: ApiError['kind'] = null) {
    super(message);
    this.name = 'ApiCallError';
    this.code = code;
    this.kind = kind;
  }
}

/** What the components use; tests hand them a fake. */
export interface Api {
  call<M extends BridgeMethod>(method: M, request: MethodRequest<M>): Promise<MethodResponse<M>>;
  /** Send a dropped, picked or pasted file to the server; its path there is a job input. */
  upload(file: Blob, name?: string): Promise<UploadResult>;
  /** A URL an `<img>` can show a local file (preview or result) with. */
  fileUrl(path: string): string;
}

export type PywebviewReply = { ok: true; result: unknown } | { ok: false; error: ApiError };

export interface PywebviewApi {
  call(method: string, payload: unknown): Promise<PywebviewReply>;
}

export interface PywebviewWindow {
  pywebview?: { api?: Partial<PywebviewApi> };
}

export interface ApiOptions {
  /** The session token (the page's `?token=`). */
  token: string;
  /** Prefix of the HTTP server; '' = the page's own origin. */
  baseUrl?: string;
  fetch?: typeof fetch;
  /** Where `pywebview` may appear; `null` = never use it. */
  win?: PywebviewWindow | null;
}

function isApiError(value: unknown): value is ApiError {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as ApiError).code === 'string' &&
    typeof (value as ApiError).message === 'string'
  );
}

async function errorFromResponse(response: Response): Promise<ApiCallError> {
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: fall through to the status line
  }
  if (isApiError(body)) return new ApiCallError(body.code, body.message, body.kind);
  const code: ApiErrorCode =
    response.status === 404 ? 'not_found' : response.status === 409 ? 'conflict' : 'internal';
  return new ApiCallError(
    code,
    `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`,
  );
}

function networkError(error: unknown): ApiCallError {
  const detail = error instanceof Error ? error.message : String(error);
  return new ApiCallError('network', `pixup is not reachable (${detail})`);
}

/** The HTTP transport alone. */
export function createFetchApi(options: Omit<ApiOptions, 'win'>): Api {
  const base = options.baseUrl ?? '';
  const token = options.token;
  const doFetch = options.fetch ?? ((...args: Parameters<typeof fetch>) => globalThis.fetch(...args));
  const auth = { Authorization: `Bearer ${token}` };

  async function send(url: string, init: RequestInit): Promise<unknown> {
    let response: Response;
    try {
      response = await doFetch(url, init);
    } catch (error) {
      throw networkError(error);
    }
    if (response.status !== 200) throw await errorFromResponse(response);
    try {
      return await response.json();
    } catch {
      throw new ApiCallError('internal', 'The reply was not JSON');
    }
  }

  return {
    async call(method, request) {
      return (await send(`${base}/api/${method}`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/json' },
        body: JSON.stringify(request ?? {}),
      })) as never;
    },
    async upload(file, name) {
      const fileName = name ?? (file instanceof File ? file.name : '') ?? '';
      return (await send(`${base}/api/upload?name=${encodeURIComponent(fileName || 'pasted.png')}`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/octet-stream' },
        body: file,
      })) as UploadResult;
    },
    fileUrl(path) {
      return `${base}/api/file?path=${encodeURIComponent(path)}&token=${encodeURIComponent(token)}`;
    },
  };
}

/** Unwrap one pywebview reply. */
export async function callPywebview(api: PywebviewApi, method: string, payload: unknown): Promise<unknown> {
  let reply: PywebviewReply;
  try {
    reply = await api.call(method, payload ?? {});
  } catch (error) {
    throw new ApiCallError('internal', error instanceof Error ? error.message : String(error));
  }
  if (reply && reply.ok === true) return reply.result;
  if (reply && reply.ok === false && isApiError(reply.error)) {
    throw new ApiCallError(reply.error.code, reply.error.message, reply.error.kind);
  }
  throw new ApiCallError('internal', 'Malformed reply from the window');
}

/** pywebview for calls when it is there, HTTP otherwise; HTTP for uploads and files. */
export function createApi(options: ApiOptions): Api {
  const http = createFetchApi(options);
  const win = options.win === undefined ? (globalThis as unknown as PywebviewWindow) : options.win;

  function pywebview(): PywebviewApi | null {
    const candidate = win?.pywebview?.api;
    return candidate && typeof candidate.call === 'function' ? (candidate as PywebviewApi) : null;
  }

  return {
    async call(method, request) {
      const bridge = pywebview();
      if (bridge) return (await callPywebview(bridge, method, request)) as never;
      return http.call(method, request);
    },
    upload: (file, name) => http.upload(file, name),
    fileUrl: (path) => http.fileUrl(path),
  };
}

/** The token of this page (`?token=`); '' when there is none. */
export function pageToken(search: string = globalThis.location?.search ?? ''): string {
  return new URLSearchParams(search).get('token') ?? '';
}

let current: Api | null = null;

/** The page's API, made from the page URL on first use (tests and stories pass components a fake
 * `api` instead). */
export function getDefaultApi(): Api {
  current ??= createApi({ token: pageToken() });
  return current;
}

/** A readable line for any error (ApiCallError or not). */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiCallError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
