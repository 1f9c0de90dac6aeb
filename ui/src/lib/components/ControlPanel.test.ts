import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { optionsFromSettings } from '../options';
import type { Settings } from '../types';
import { BROWSER, MODELS, WINDOW, fakeApi } from '../../test/fakes';
import ControlPanel from './ControlPanel.svelte';

function setup(settings: Settings = {}, capabilities = BROWSER) {
  const api = fakeApi({
    select_model: (r) => ({ model_id: r.model || 'x', preloading: true }),
    pick_output: () => ({ paths: ['/out/big'] }),
  });
  const onchange = vi.fn();
  render(ControlPanel, { settings, capabilities, models: MODELS, api, onchange });
  const last = (): Settings => onchange.mock.calls.at(-1)![0];
  return { api, onchange, last };
}

describe('ControlPanel', () => {
  it('shows the repair slider only while Fix compression is on, and sends repair', async () => {
    const { onchange, last } = setup({ repair_enabled: false, repair_strength: 50 });
    expect(screen.queryByTestId('repair-strength')).toBeNull();

    await fireEvent.click(screen.getByTestId('repair-toggle'));
    expect(last().repair_enabled).toBe(true);
    const slider = screen.getByTestId('repair-strength');
    await fireEvent.input(slider, { target: { value: '70' } });
    expect(last().repair_strength).toBe(70);
    expect(optionsFromSettings(last(), BROWSER).repair).toBe(70);

    await fireEvent.click(screen.getByTestId('repair-toggle'));
    expect(screen.queryByTestId('repair-strength')).toBeNull();
    expect(optionsFromSettings(last(), BROWSER).repair).toBe(0);
    expect(onchange).toHaveBeenCalledTimes(3);
  });

  it('disables faces with the reason when they are unavailable; repair is always there', () => {
    setup({ repair_enabled: true, faces: true }, { ...BROWSER, faces: 'Face recovery is not installed' });
    expect(screen.getByTestId('repair-toggle')).toBeEnabled();
    expect(screen.getByTestId('repair-strength')).toBeInTheDocument();
    expect(screen.getByTestId('faces-toggle')).toBeDisabled();
    expect(screen.getByTestId('faces-reason')).toHaveTextContent('Face recovery is not installed');
    const options = optionsFromSettings(
      { repair_enabled: true, repair_strength: 80, faces: true },
      { faces: 'no' },
    );
    expect(options.repair).toBe(80);
    expect(options.faces).toBe(false);
  });

  it('selecting a scenario updates settings and calls select_model', async () => {
    const { api, last } = setup({ scenario: 'Universal Fast', model: 'my-span' });
    const select = screen.getByTestId('scenario') as HTMLSelectElement;
    expect(select.value).toBe('__custom__');
    await fireEvent.change(select, { target: { value: 'Digital Art' } });
    expect(last()).toMatchObject({ scenario: 'Digital Art', model: '' });
    await waitFor(() => expect(api.requests('select_model')).toHaveLength(1));
    expect(api.requests('select_model')[0]).toMatchObject({ scenario: 'Digital Art', model: '' });
  });

  it('scale, format and quality reach the job options', async () => {
    const { last } = setup({ format: null });
    await fireEvent.change(screen.getByTestId('scale'), { target: { value: '2' } });
    expect(last().scale).toBe(2);
    await fireEvent.change(screen.getByTestId('format'), { target: { value: 'png' } });
    expect(screen.queryByTestId('quality')).toBeNull();
    await fireEvent.change(screen.getByTestId('format'), { target: { value: 'webp' } });
    await fireEvent.input(screen.getByTestId('quality'), { target: { value: '80' } });
    const options = optionsFromSettings(last(), BROWSER);
    expect(options).toMatchObject({ scale: 2, format: 'webp', quality: 80 });
  });

  it('browser mode: output folder is a text field', async () => {
    const { last } = setup();
    const input = screen.getByTestId('output-dir');
    await fireEvent.input(input, { target: { value: '/data/out' } });
    expect(last().output_dir).toBe('/data/out');
    expect(optionsFromSettings(last()).output_dir).toBe('/data/out');
    expect(screen.queryByText('Choose output folder')).toBeNull();
  });

  it('window mode: Choose output folder calls pick_output', async () => {
    const { api, last } = setup({}, WINDOW);
    expect(screen.queryByTestId('output-dir')).toBeNull();
    await fireEvent.click(screen.getByRole('button', { name: 'Choose output folder' }));
    await waitFor(() => expect(last().output_dir).toBe('/out/big'));
    expect(api.requests('pick_output')).toHaveLength(1);
    expect(screen.getByTestId('output-dir-label')).toHaveTextContent('/out/big');
  });

  it('an advanced model overrides the scenario', async () => {
    const { api, last } = setup({ scenario: 'Universal Fast' });
    await fireEvent.change(screen.getByTestId('model-select'), { target: { value: 'my-span' } });
    expect(last().model).toBe('my-span');
    await waitFor(() =>
      expect(api.requests('select_model')[0]).toMatchObject({ model: 'my-span', scenario: null }),
    );
    expect(optionsFromSettings(last())).toMatchObject({ model: 'my-span', scenario: null });
    expect((screen.getByTestId('scenario') as HTMLSelectElement).value).toBe('__custom__');
  });
});
