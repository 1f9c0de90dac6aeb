import type { Meta, StoryObj } from '@storybook/svelte-vite';
import BatchView from '../lib/components/BatchView.svelte';
import { file, job } from '../test/samples';
import { mockApi } from './mockApi';

const LONG =
  'IMG_20240612_183455_HDR_a-very-long-name-from-a-phone-export-that-never-fits-in-a-row-of-the-queue.jpg';

const meta = {
  title: 'BatchView',
  component: BatchView,
  args: { api: mockApi(), jobs: [], onclear: () => {} },
} satisfies Meta<typeof BatchView>;

export default meta;
type Story = StoryObj<typeof meta>;

export const Empty: Story = {};

export const Running: Story = {
  args: {
    jobs: [
      job({
        job_id: 'a',
        files: [
          file({
            input: '/p/done.png',
            status: 'done',
            output: '/o/done_4x.png',
            out_width: 2048,
            out_height: 1536,
            seconds: 12.4,
          }),
          file({ input: '/p/now.png', status: 'running', tiles_done: 7, tiles_total: 20, eta_s: 42 }),
          file({ input: '/p/next.png', status: 'queued' }),
          file({ input: '/p/later.png', status: 'queued' }),
        ],
      }),
    ],
  },
};

export const Errors: Story = {
  args: {
    jobs: [
      job({
        job_id: 'b',
        status: 'done',
        files: [
          file({
            input: '/p/broken.jpg',
            status: 'failed',
            error_code: 'truncated',
            error: 'file is truncated (it ends before the image data does)',
          }),
          file({
            input: '/p/huge.png',
            status: 'failed',
            error_code: 'too_large',
            error:
              '40000×40000 is 1600 megapixels, above the 179 MP safety limit against decompression bombs',
          }),
          file({ input: '/p/stopped.png', status: 'cancelled' }),
          file({
            input: '/p/fine.png',
            status: 'done',
            output: '/o/fine_4x.png',
            out_width: 1024,
            out_height: 1024,
          }),
        ],
      }),
    ],
  },
};

export const BatchOverridden: Story = {
  name: 'Batch overridden (notice)',
  args: {
    jobs: [
      job({
        job_id: 'c',
        notices: ['Model requires batch size 1. Overriding your setting of 4.'],
        files: [
          file({
            input: '/p/a.png',
            status: 'running',
            tiles_done: 3,
            tiles_total: 9,
            eta_s: 610,
            notices: ['Model requires batch size 1. Overriding your setting of 4.'],
          }),
        ],
      }),
    ],
  },
};

export const LongNames: Story = {
  args: {
    jobs: [
      job({
        job_id: 'd',
        files: [
          file({
            input: `/home/me/Pictures/2024/Summer holiday/${LONG}`,
            status: 'running',
            tiles_done: 1,
            tiles_total: 64,
            eta_s: 3725,
          }),
          file({
            input: `/home/me/Pictures/${LONG.replace('.jpg', '-2.jpg')}`,
            status: 'failed',
            error: `${LONG}: ${'a very long error message '.repeat(6)}`,
          }),
        ],
      }),
    ],
  },
};
