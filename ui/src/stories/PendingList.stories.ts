import type { Meta, StoryObj } from '@storybook/svelte-vite';
import PendingList from '../lib/components/PendingList.svelte';

const meta = {
  title: 'PendingList',
  component: PendingList,
  args: { paths: [], onremove: () => {}, onclear: () => {} },
} satisfies Meta<typeof PendingList>;

export default meta;
type Story = StoryObj<typeof meta>;

export const Empty: Story = {};
export const Some: Story = { args: { paths: ['/home/me/a.png', '/home/me/b.jpg', '/home/me/pics'] } };
export const LongNames: Story = {
  args: {
    paths: Array.from(
      { length: 12 },
      (_, i) =>
        `/home/me/Pictures/IMG_20240612_1834${i}_HDR_a-very-long-name-that-never-fits-anywhere-${i}.jpg`,
    ),
  },
};
