import type { Meta, StoryObj } from '@storybook/svelte-vite';
import App from '../App.svelte';
import type { JobSnapshot } from '../lib/types';
import { BROWSER, WINDOW, file } from '../test/samples';
import { mockApi } from './mockApi';

/** A backend whose one job advances a tile every 300 ms. */
function runningBackend(
  capabilities = BROWSER,
  theme: 'system' | 'dark' | 'light' = 'light',
  preloaded: string[] = [],
) {
  let job: JobSnapshot | null = null;
  let started = 0;
  const TILES = 12;
  function snapshot(): JobSnapshot | null {
    if (!job) return null;
    const tiles = Math.floor((Date.now() - started) / 300);
    const files = job.files.map((f, i) => {
      const done = Math.max(0, Math.min(TILES, tiles - i * TILES));
      const status = done >= TILES ? 'done' : done > 0 || i * TILES === tiles ? 'running' : 'queued';
      return {
        ...f,
        status: status as JobSnapshot['status'],
        tiles_done: done,
        tiles_total: TILES,
        eta_s: status === 'running' ? (TILES - done) * 0.3 : null,
        output: status === 'done' ? f.input.replace(/(\.\w+)$/, '_pixup_4x$1') : null,
        out_width: 800,
        out_height: 600,
      };
    });
    const active = files.some((f) => f.status !== 'done');
    return { ...job, files, status: active ? 'running' : 'done' };
  }
  if (preloaded.length > 0) {
    started = Date.now() - 5000;
    job = {
      job_id: 'preloaded',
      status: 'running',
      created: started / 1000,
      notices: [],
      files: preloaded.map((input) => file({ input })),
    };
  }
  return mockApi({
    capabilities: () => capabilities,
    get_settings: () => ({ scenario: 'Universal Balanced', scale: 4, theme }),
    set_settings: (s) => s,
    list_jobs: () => ({ jobs: job ? [snapshot()!] : [] }),
    start_job: (r) => {
      started = Date.now();
      job = {
        job_id: r.job_id,
        status: 'running',
        created: Date.now() / 1000,
        notices: ['Model requires batch size 1. Overriding your setting of 4.'],
        files: r.inputs.map((input) => file({ input })),
      };
      return snapshot()!;
    },
  });
}

const meta = {
  title: 'App',
  component: App,
  args: { api: runningBackend() },
  parameters: { layout: 'fullscreen' },
} satisfies Meta<typeof App>;

export default meta;
type Story = StoryObj<typeof meta>;

/** Add files (the mock upload works), press Start, watch the queue. */
export const Browser: Story = {};
export const Window: Story = { args: { api: runningBackend(WINDOW) } };
export const Dark: Story = { args: { api: runningBackend(BROWSER, 'dark') } };
export const NotAnswering: Story = { args: { api: mockApi() } };

export const Running: Story = {
  args: {
    api: runningBackend(WINDOW, 'light', [
      '/home/me/Pictures/first.png',
      '/home/me/Pictures/IMG_20240612_183455_HDR_a-very-long-name-from-a-phone-export-that-never-fits.jpg',
      '/home/me/Pictures/third.webp',
      '/home/me/Pictures/fourth.tiff',
    ]),
  },
};
