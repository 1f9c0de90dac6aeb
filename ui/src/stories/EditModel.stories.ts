import type { Meta, StoryObj } from '@storybook/svelte-vite';
import EditModel from '../lib/components/EditModel.svelte';
import { model } from '../test/samples';
import { mockApi } from './mockApi';

const meta = {
  title: 'EditModel',
  component: EditModel,
  args: {
    api: mockApi({ edit_model: (r) => model({ id: r.model_id }) }),
    model: model(),
    onclose: () => console.info('close'),
  },
  parameters: { layout: 'fullscreen' },
} satisfies Meta<typeof EditModel>;

export default meta;
type Story = StoryObj<typeof meta>;

export const Default: Story = {};
export const BatchOverridden: Story = {
  args: {
    model: model({
      id: 'my-span',
      display_name: 'My SPAN',
      scenario: 'Custom',
      fixed_batch: 1,
      batch_size: 4,
    }),
  },
};
export const LongName: Story = {
  args: {
    model: model({
      id: 'custom/4x-UltraSharpV2_RealPLKSR_a_really_long_model_file_name_from_openmodeldb.safetensors',
      display_name: '4x UltraSharp V2 RealPLKSR (a really long display name)',
      scenario: null,
    }),
  },
};
