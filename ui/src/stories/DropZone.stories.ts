import type { Meta, StoryObj } from '@storybook/svelte-vite';
import DropZone from '../lib/components/DropZone.svelte';
import { BROWSER, WINDOW } from '../test/samples';
import { mockApi } from './mockApi';

const meta = {
  title: 'DropZone',
  component: DropZone,
  args: {
    api: mockApi(),
    capabilities: BROWSER,
    onpaths: (paths: string[]) => console.info('paths', paths),
  },
} satisfies Meta<typeof DropZone>;

export default meta;
type Story = StoryObj<typeof meta>;

export const Browser: Story = {};
export const Window: Story = { args: { capabilities: WINDOW } };
export const Disabled: Story = { args: { disabled: true } };
