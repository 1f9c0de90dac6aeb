import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import App from './App.svelte';
import { BROWSER, MODELS, SYSTEM, fakeApi, file, job } from './test/fakes';

describe('keyboard', () => {
  it('every control is reachable with Tab, in order, and buttons are buttons', async () => {
    const api = fakeApi({
      capabilities: () => BROWSER,
      get_settings: () => ({ repair_enabled: true }),
      list_models: () => MODELS,
      list_jobs: () => ({
        jobs: [job({ status: 'done', files: [file({ status: 'done', output: '/o/cat_4x.png' })] })],
      }),
      system_info: () => SYSTEM,
    });
    const user = userEvent.setup();
    render(App, { api, systemMs: 60_000 });
    await screen.findByTestId('file-row');
    const reached: string[] = [];
    for (let i = 0; i < 40; i++) {
      await user.tab();
      const el = document.activeElement as HTMLElement;
      reached.push(el.dataset.testid ?? el.textContent?.trim() ?? el.tagName);
    }
    for (const id of [
      'theme-toggle',
      'scenario',
      'scale',
      'repair-toggle',
      'repair-strength',
      'faces-toggle',
      'format',
      'output-dir',
      'compare-open',
      'open-output',
    ]) {
      expect(reached).toContain(id);
    }
    expect(reached).toContain('Add files');
    // no clickable div/span in the tab order
    for (const el of document.querySelectorAll<HTMLElement>('[tabindex="0"]')) {
      expect(['BUTTON', 'INPUT', 'SELECT', 'SUMMARY', 'DIV']).toContain(el.tagName);
    }
  });

  it('Enter on Compare opens the comparison and Escape closes it', async () => {
    const api = fakeApi({
      capabilities: () => BROWSER,
      get_settings: () => ({}),
      list_models: () => MODELS,
      list_jobs: () => ({
        jobs: [job({ status: 'done', files: [file({ status: 'done', output: '/o/cat_4x.png' })] })],
      }),
      system_info: () => SYSTEM,
    });
    const user = userEvent.setup();
    render(App, { api, systemMs: 60_000 });
    (await screen.findByTestId('compare-open')).focus();
    await user.keyboard('{Enter}');
    expect(await screen.findByTestId('compare')).toBeInTheDocument();
    expect(document.activeElement).toBe(screen.getByTestId('compare-viewport'));
    await user.keyboard('{Escape}');
    expect(screen.queryByTestId('compare')).toBeNull();
  });
});
