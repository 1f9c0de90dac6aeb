import { describe, expect, it, vi } from 'vitest';
import {
  ApiCallError,
  callPywebview,
  createApi,
  createFetchApi,
  pageToken,
  type PywebviewReply,
  type PywebviewWindow,
} from './api';

function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

describe('fetch transport', () => {
  it('POSTs the request as JSON to /api/<method> with the bearer token', async () => {
    const fetch = vi.fn(async () => jsonResponse(200, { model_id: 'm', preloading: true }));
    const api = createFetchApi({ token: 'tok123', fetch });
    const reply = await api.call('select_model', { scenario: 'Digital Art' });
    expect(reply).toEqual({ model_id: 'm', preloading: true });
    expect(fetch).toHaveBeenCalledTimes(1);
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('/api/select_model');
    expect(init.method).toBe('POST');
    expect((init.headers as Record<string, string>).Authorization).toBe('Bearer tok123');
    expect(JSON.parse(init.body as string)).toEqual({ scenario: 'Digital Art' });
  });

  it('maps a non-200 ApiError reply to ApiCallError with its code and message', async () => {
    const fetch = vi.fn(async () => jsonResponse(404, { code: 'not_found', message: 'no such job' }));
    const api = createFetchApi({ token: 't', fetch });
    const error = await api.call('job_status', { job_id: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiCallError);
    expect((error as ApiCallError).code).toBe('not_found');
    expect((error as ApiCallError).message).toBe('no such job');
    expect((error as ApiCallError).kind).toBeNull();
  });

  it('keeps the failure kind of a refused request', async () => {
    const body = { code: 'invalid_request', message: "unknown model 'x'", kind: 'unknown_model' };
    const api = createFetchApi({ token: 't', fetch: vi.fn(async () => jsonResponse(400, body)) });
    const error = (await api
      .call('start_job', { job_id: 'job-00001', inputs: ['/a.png'] })
      .catch((e: unknown) => e)) as ApiCallError;
    expect([error.code, error.kind]).toEqual(['invalid_request', 'unknown_model']);
  });

  it('maps a non-JSON failure and a 200 with other status codes to internal', async () => {
    const fetch = vi.fn(async () => new Response('boom', { status: 500, statusText: 'Server Error' }));
    const api = createFetchApi({ token: 't', fetch });
    const error = (await api.call('list_jobs', {}).catch((e: unknown) => e)) as ApiCallError;
    expect(error.code).toBe('internal');
    expect(error.message).toContain('500');
  });

  it('treats 201 as a failure too (only 200 is a reply)', async () => {
    const fetch = vi.fn(async () => jsonResponse(201, { code: 'conflict', message: 'busy' }));
    const api = createFetchApi({ token: 't', fetch });
    await expect(api.call('list_jobs', {})).rejects.toMatchObject({ code: 'conflict', message: 'busy' });
  });

  it('maps a network failure to code network', async () => {
    const fetch = vi.fn(async () => {
      throw new TypeError('Failed to fetch');
    });
    const api = createFetchApi({ token: 't', fetch });
    await expect(api.call('list_jobs', {})).rejects.toMatchObject({ code: 'network' });
  });

  it('uploads raw bytes to /api/upload?name= with the token', async () => {
    const fetch = vi.fn(async () => jsonResponse(200, { path: '/srv/up/a b.png' }));
    const api = createFetchApi({ token: 'tok', fetch });
    const blob = new File(['abc'], 'a b.png', { type: 'image/png' });
    const result = await api.upload(blob);
    expect(result.path).toBe('/srv/up/a b.png');
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('/api/upload?name=a%20b.png');
    expect(init.method).toBe('POST');
    expect(init.body).toBe(blob);
    expect((init.headers as Record<string, string>).Authorization).toBe('Bearer tok');
  });

  it('makes file URLs with the encoded path and the token', () => {
    const api = createFetchApi({ token: 'a&b', fetch: vi.fn() });
    expect(api.fileUrl('/home/me/my pics/x#1.png')).toBe(
      '/api/file?path=%2Fhome%2Fme%2Fmy%20pics%2Fx%231.png&token=a%26b',
    );
  });
});

describe('pywebview transport', () => {
  it('returns result of {ok: true}', async () => {
    const bridge = { call: vi.fn(async (): Promise<PywebviewReply> => ({ ok: true, result: { jobs: [] } })) };
    await expect(callPywebview(bridge, 'list_jobs', {})).resolves.toEqual({ jobs: [] });
    expect(bridge.call).toHaveBeenCalledWith('list_jobs', {});
  });

  it('maps {ok: false} to ApiCallError', async () => {
    const bridge = {
      call: vi.fn(async (): Promise<PywebviewReply> => ({
        ok: false,
        error: { code: 'unavailable', message: 'Face recovery is not installed', kind: 'no_face_model' },
      })),
    };
    const error = (await callPywebview(bridge, 'start_job', {}).catch((e: unknown) => e)) as ApiCallError;
    expect(error).toBeInstanceOf(ApiCallError);
    expect(error.code).toBe('unavailable');
    expect(error.kind).toBe('no_face_model');
    expect(error.message).toBe('Face recovery is not installed');
  });

  it('maps a rejected promise to an internal ApiCallError', async () => {
    const bridge = {
      call: vi.fn(async (): Promise<PywebviewReply> => Promise.reject(new Error('js bridge gone'))),
    };
    await expect(callPywebview(bridge, 'list_jobs', {})).rejects.toMatchObject({
      code: 'internal',
      message: 'js bridge gone',
    });
  });
});

describe('createApi', () => {
  it('uses fetch until window.pywebview appears, then pywebview for calls (uploads stay HTTP)', async () => {
    const fetch = vi.fn(async () => jsonResponse(200, { jobs: [] }));
    const win: PywebviewWindow = {};
    const api = createApi({ token: 't', fetch, win });
    await api.call('list_jobs', {});
    expect(fetch).toHaveBeenCalledTimes(1);

    const bridgeCall = vi.fn(async (): Promise<PywebviewReply> => ({ ok: true, result: { jobs: ['x'] } }));
    win.pywebview = { api: { call: bridgeCall } };
    await expect(api.call('list_jobs', {})).resolves.toEqual({ jobs: ['x'] });
    expect(bridgeCall).toHaveBeenCalledWith('list_jobs', {});
    expect(fetch).toHaveBeenCalledTimes(1);

    fetch.mockResolvedValueOnce(jsonResponse(200, { path: '/p' }));
    await api.upload(new File(['x'], 'x.png'));
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it('reads the token from the page URL', () => {
    expect(pageToken('?token=abc&x=1')).toBe('abc');
    expect(pageToken('')).toBe('');
  });
});
