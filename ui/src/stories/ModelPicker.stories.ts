import type { Meta, StoryObj } from '@storybook/svelte-vite';
import ModelPicker from '../lib/components/ModelPicker.svelte';
import { MODELS } from '../test/samples';
import Frame from './Frame.svelte';
import { mockApi } from './mockApi';

const meta = {
  title: 'ModelPicker',
  component: ModelPicker,
  decorators: [() => ({ Component: Frame, props: { width: '18rem' } })],
  args: { api: mockApi(), models: MODELS, value: '', scenario: 'Universal Fast', onselect: () => {} },
} satisfies Meta<typeof ModelPicker>;

export default meta;
type Story = StoryObj<typeof meta>;

export const ScenarioDefault: Story = {};
export const CustomSelected: Story = { args: { value: 'my-span' } };
export const NativeDialogs: Story = { args: { native_dialogs: true } };
export const ConfigError: Story = {
  args: { models: { ...MODELS, config_error: 'batch_size of "my-span" must be 1–8 (got 12)' } },
};
