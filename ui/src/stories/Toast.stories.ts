import type { Meta, StoryObj } from '@storybook/svelte-vite';
import Toast from '../lib/components/Toast.svelte';
import { Toasts } from '../lib/toasts.svelte';

function stack(fill: (t: Toasts) => void): Toasts {
  const toasts = new Toasts(24 * 3600 * 1000);
  fill(toasts);
  return toasts;
}

const meta = {
  title: 'Toast',
  component: Toast,
  args: { toasts: new Toasts() },
  parameters: { layout: 'fullscreen' },
} satisfies Meta<typeof Toast>;

export default meta;
type Story = StoryObj<typeof meta>;

export const Empty: Story = {};

export const Stack: Story = {
  args: {
    toasts: stack((t) => {
      t.info('Imported 2 models');
      t.warning('Model requires batch size 1. Overriding your setting of 4.');
      t.success('Done: 12 files upscaled');
      t.error('holiday.jpg: the output folder is not writable');
    }),
  },
};

export const LongError: Story = {
  args: {
    toasts: stack((t) =>
      t.error(
        'IMG_20240612_183455_HDR_a-very-long-name-from-a-phone-export-that-never-fits.jpg: out of memory on the GPU at tile 512; retried on the CPU and that failed too',
      ),
    ),
  },
};
