import type { Meta, StoryObj } from '@storybook/svelte-vite';
import ImageComparison from '../lib/components/ImageComparison.svelte';
import Frame from './Frame.svelte';
import { mockApi } from './mockApi';

const api = mockApi();

const meta = {
  title: 'ImageComparison',
  component: ImageComparison,
  decorators: [() => ({ Component: Frame, props: { width: '100%', height: '100vh' } })],
  args: {
    before: api.fileUrl('/p/before.png'),
    after: api.fileUrl('/o/after_pixup_4x.png'),
    width: 800,
    height: 600,
  },
  parameters: { layout: 'fullscreen' },
} satisfies Meta<typeof ImageComparison>;

export default meta;
type Story = StoryObj<typeof meta>;

export const Default: Story = {};
export const SplitLeft: Story = { args: { split: 20 } };
export const WithClose: Story = { args: { onclose: () => console.info('close') } };
