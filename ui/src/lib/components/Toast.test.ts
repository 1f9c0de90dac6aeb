import { fireEvent, render, screen } from '@testing-library/svelte';
import { flushSync } from 'svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AUTO_DISMISS_MS, Toasts } from '../toasts.svelte';
import Toast from './Toast.svelte';

describe('Toast', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('stacks toasts; info goes by itself, an error stays until dismissed', async () => {
    const toasts = new Toasts();
    render(Toast, { toasts });
    toasts.info('Model requires batch size 1. Overriding your setting of 4.');
    toasts.error('cat.png: not an image');
    flushSync();
    expect(screen.getAllByTestId('toast')).toHaveLength(2);

    vi.advanceTimersByTime(AUTO_DISMISS_MS + 10);
    flushSync();
    const left = screen.getAllByTestId('toast');
    expect(left).toHaveLength(1);
    expect(left[0]).toHaveTextContent('cat.png: not an image');
    expect(left[0]).toHaveAttribute('role', 'alert');

    vi.advanceTimersByTime(60_000);
    flushSync();
    expect(screen.getAllByTestId('toast')).toHaveLength(1);

    await fireEvent.click(screen.getByRole('button', { name: 'Dismiss' }));
    expect(screen.queryAllByTestId('toast')).toHaveLength(0);
  });

  it('dismisses an info toast early without its timer firing later', async () => {
    const toasts = new Toasts(1000);
    render(Toast, { toasts });
    toasts.info('one');
    toasts.info('two');
    flushSync();
    await fireEvent.click(screen.getAllByRole('button', { name: 'Dismiss' })[0]);
    expect(screen.getAllByTestId('toast').map((t) => t.textContent)).toEqual([
      expect.stringContaining('two'),
    ]);
    vi.advanceTimersByTime(1001);
    flushSync();
    expect(screen.queryAllByTestId('toast')).toHaveLength(0);
  });
});
