import type { Meta, StoryObj } from '@storybook/svelte-vite';
import SystemInfo from '../lib/components/SystemInfo.svelte';
import { SYSTEM } from '../test/samples';
import Frame from './Frame.svelte';
import { mockApi } from './mockApi';

const meta = {
  title: 'SystemInfo',
  component: SystemInfo,
  decorators: [() => ({ Component: Frame, props: { width: '18rem' } })],
  args: { api: mockApi() },
} satisfies Meta<typeof SystemInfo>;

export default meta;
type Story = StoryObj<typeof meta>;

export const OneGpu: Story = {};

export const CpuOnly: Story = {
  args: {
    api: mockApi({
      system_info: () => ({
        ...SYSTEM,
        gpus: [],
        device: 'CPU',
        provider: 'CPUExecutionProvider',
        precision: 'fp32',
      }),
    }),
  },
};

export const TwoGpusBusy: Story = {
  args: {
    api: mockApi({
      system_info: () => ({
        ...SYSTEM,
        device: 'CUDA',
        provider: 'CUDAExecutionProvider',
        precision: 'fp16',
        ram_used: 15 * 1024 ** 3,
        gpus: [
          { name: 'NVIDIA GeForce RTX 4090', vram_total: 24 * 1024 ** 3, vram_used: 21 * 1024 ** 3 },
          { name: 'NVIDIA GeForce RTX 3060', vram_total: 12 * 1024 ** 3, vram_used: 1 * 1024 ** 3 },
        ],
      }),
    }),
  },
};

export const Error: Story = {
  args: {
    api: mockApi({
      system_info: () => {
        throw new globalThis.Error('pixup is not reachable');
      },
    }),
  },
};
