import { render, screen } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SYSTEM, fakeApi } from '../../test/fakes';
import SystemInfo from './SystemInfo.svelte';

describe('SystemInfo', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('shows device, provider, precision, RAM and VRAM per GPU, refreshed every 2 s', async () => {
    let used = SYSTEM.ram_used;
    const api = fakeApi({ system_info: () => ({ ...SYSTEM, ram_used: used }) });
    render(SystemInfo, { api });
    await vi.advanceTimersByTimeAsync(0);
    expect(screen.getByTestId('sys-device')).toHaveTextContent('OpenVINO CPU');
    expect(screen.getByTestId('sys-provider')).toHaveTextContent('OpenVINOExecutionProvider');
    expect(screen.getByTestId('sys-precision')).toHaveTextContent('bf16');
    expect(screen.getByTestId('sys-ram')).toHaveTextContent('4.0 GB / 16 GB');
    expect(screen.getAllByTestId('sys-vram')).toHaveLength(1);
    expect(screen.getByTestId('sys-vram')).toHaveTextContent('RTX Test');
    expect(screen.getByTestId('sys-vram')).toHaveTextContent('2.0 GB / 8.0 GB');
    expect(api.requests('system_info')).toHaveLength(1);

    used = 8 * 1024 ** 3;
    await vi.advanceTimersByTimeAsync(2000);
    expect(api.requests('system_info')).toHaveLength(2);
    expect(screen.getByTestId('sys-ram')).toHaveTextContent('8.0 GB / 16 GB');
  });

  it('shows an error line when the call fails', async () => {
    const api = fakeApi({
      system_info: () => {
        throw new Error('down');
      },
    });
    render(SystemInfo, { api });
    await vi.advanceTimersByTimeAsync(0);
    expect(screen.getByText('down')).toBeInTheDocument();
  });
});
