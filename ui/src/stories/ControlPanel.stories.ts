import type { Meta, StoryObj } from '@storybook/svelte-vite';
import ControlPanel from '../lib/components/ControlPanel.svelte';
import { BROWSER, MODELS, WINDOW } from '../test/samples';
import Frame from './Frame.svelte';
import { mockApi } from './mockApi';

const meta = {
  title: 'ControlPanel',
  component: ControlPanel,
  decorators: [() => ({ Component: Frame, props: { width: '18rem' } })],
  args: { api: mockApi(), capabilities: BROWSER, models: MODELS, settings: {} },
  parameters: { layout: 'padded' },
} satisfies Meta<typeof ControlPanel>;

export default meta;
type Story = StoryObj<typeof meta>;

export const Browser: Story = {};

export const RepairOn: Story = {
  args: { settings: { repair_enabled: true, repair_strength: 65, faces: true, format: 'webp', quality: 85 } },
};

export const Window: Story = {
  args: {
    capabilities: WINDOW,
    settings: { output_dir: '/home/me/Pictures/Upscaled with a rather long folder name/2024' },
  },
};

export const Unavailable: Story = {
  args: {
    capabilities: {
      ...BROWSER,
      faces: 'Face recovery is not in this build.',
    },
    settings: { repair_enabled: true, faces: true },
  },
};

export const CustomModel: Story = {
  args: { settings: { model: 'my-span' } },
};

export const Loading: Story = {
  args: { models: null },
};
