/** A fake transport and sample replies for component tests (never a real server). */
import { vi } from 'vitest';
import { ApiCallError, type Api, type MethodRequest, type MethodResponse } from '../lib/api';
import type { BridgeMethod } from '../lib/bridge';
import type { UploadResult } from '../lib/types';

export * from './samples';

export type Handlers = {
  [M in BridgeMethod]?: (request: MethodRequest<M>) => MethodResponse<M> | Promise<MethodResponse<M>>;
};

export interface FakeApi extends Api {
  call: Api['call'] & ReturnType<typeof vi.fn>;
  upload: Api['upload'] & ReturnType<typeof vi.fn>;
  /** Requests each method got, in order. */
  requests<M extends BridgeMethod>(method: M): MethodRequest<M>[];
  handlers: Handlers;
}

export function fakeApi(
  handlers: Handlers = {},
  upload?: (file: Blob, name?: string) => UploadResult | Promise<UploadResult>,
): FakeApi {
  const log: { method: BridgeMethod; request: unknown }[] = [];
  const call = vi.fn(async (method: BridgeMethod, request: unknown) => {
    log.push({ method, request });
    const handler = handlers[method] as ((r: unknown) => unknown) | undefined;
    if (!handler) throw new ApiCallError('not_found', `fake: no handler for ${method}`);
    return handler(request);
  });
  const uploadFn = vi.fn(async (file: Blob, name?: string) => {
    if (upload) return upload(file, name);
    return { path: `/srv/uploads/${name ?? (file as File).name}` };
  });
  return {
    call: call as unknown as FakeApi['call'],
    upload: uploadFn as unknown as FakeApi['upload'],
    fileUrl: (path: string) => `/api/file?path=${encodeURIComponent(path)}&token=t`,
    requests: <M extends BridgeMethod>(method: M) =>
      log.filter((entry) => entry.method === method).map((entry) => entry.request as MethodRequest<M>),
    handlers,
  };
}
