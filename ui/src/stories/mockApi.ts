/** A pretend backend for stories: answers from sample data, logs calls to the console. */
import { ApiCallError, type Api, type MethodRequest, type MethodResponse } from '../lib/api';
import type { BridgeMethod } from '../lib/bridge';
import { MODELS, SYSTEM, job } from '../test/samples';

export type StoryHandlers = {
  [M in BridgeMethod]?: (request: MethodRequest<M>) => MethodResponse<M> | Promise<MethodResponse<M>>;
};

// A 1×1 PNG-free placeholder: an SVG gradient stands in for images in stories.
function placeholder(path: string): string {
  const hue = [...path].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 360, 0);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="800" height="600"><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="hsl(${hue},70%,60%)"/><stop offset="1" stop-color="hsl(${(hue + 120) % 360},70%,30%)"/></linearGradient></defs><rect width="800" height="600" fill="url(#g)"/><circle cx="400" cy="300" r="160" fill="none" stroke="white" stroke-width="6"/><text x="400" y="310" font-size="40" text-anchor="middle" fill="white" font-family="sans-serif">${path.split('/').pop()}</text></svg>`;
  return `data:image/svg+xml;utf8,${encodeURIComponent(svg)}`;
}

const DEFAULTS: StoryHandlers = {
  system_info: () => SYSTEM,
  list_models: () => MODELS,
  list_jobs: () => ({ jobs: [] }),
  select_model: (r) => ({ model_id: r.model || 'scenario-model', preloading: true }),
  pick_files: () => ({ paths: ['/home/me/Pictures/holiday.jpg', '/home/me/Pictures/cat.png'] }),
  pick_folder: () => ({ paths: ['/home/me/Pictures'] }),
  pick_output: () => ({ paths: ['/home/me/Upscaled'] }),
  open_output: () => ({ ok: true }),
  cancel_file: (r) => job({ job_id: r.job_id, status: 'cancelled' }),
  cancel_job: (r) => job({ job_id: r.job_id, status: 'cancelled' }),
  import_model: (r) => ({ outcomes: [{ source: r.path, model_id: 'imported' }] }),
};

export function mockApi(handlers: StoryHandlers = {}): Api {
  const all: StoryHandlers = { ...DEFAULTS, ...handlers };
  return {
    async call(method, request) {
      console.info('[mock api]', method, request);
      const handler = all[method] as ((r: unknown) => unknown) | undefined;
      if (!handler) throw new ApiCallError('not_found', `mock: ${method} is not answered in stories`);
      return (await handler(request)) as never;
    },
    async upload(file, name) {
      return { path: `/tmp/pixup-uploads/${name ?? (file as File).name}` };
    },
    fileUrl: placeholder,
  };
}
