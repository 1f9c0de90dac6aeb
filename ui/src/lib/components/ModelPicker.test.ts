import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { MODELS, fakeApi, model } from '../../test/fakes';
import EditModel from './EditModel.svelte';
import ModelPicker from './ModelPicker.svelte';

describe('ModelPicker', () => {
  it('lists every model grouped by scenario, imported ones under Custom', () => {
    render(ModelPicker, {
      models: MODELS,
      value: '',
      scenario: 'Universal Fast',
      onselect: vi.fn(),
      api: fakeApi(),
    });
    const select = screen.getByTestId('model-select');
    const groups = Array.from(select.querySelectorAll('optgroup')).map((g) => g.label);
    expect(groups).toEqual(['Universal Fast', 'Digital Art', 'Custom']);
    const custom = select.querySelector('optgroup[label="Custom"]')!;
    expect(within(custom as HTMLElement).getByText('My SPAN')).toBeInTheDocument();
  });

  it('selecting a model reports its id', async () => {
    const onselect = vi.fn();
    render(ModelPicker, { models: MODELS, value: '', onselect, api: fakeApi() });
    await fireEvent.change(screen.getByTestId('model-select'), { target: { value: 'waifu2x-cunet-x2' } });
    expect(onselect).toHaveBeenCalledWith('waifu2x-cunet-x2');
  });

  it('imports a model by path (browser) and asks for the list again', async () => {
    const api = fakeApi({ import_model: (r) => ({ outcomes: [{ source: r.path, model_id: 'new-model' }] }) });
    const onchanged = vi.fn();
    const oninfo = vi.fn();
    render(ModelPicker, { models: MODELS, value: '', onselect: vi.fn(), onchanged, oninfo, api });
    await fireEvent.input(screen.getByTestId('import-path'), { target: { value: '/models/4x-SPAN.onnx' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Import' }));
    await waitFor(() => expect(onchanged).toHaveBeenCalled());
    expect(api.requests('import_model')).toEqual([{ path: '/models/4x-SPAN.onnx' }]);
    expect(oninfo).toHaveBeenCalledWith('Imported 1 model');
  });

  it('reports a refused import', async () => {
    const api = fakeApi({
      pick_files: () => ({ paths: ['/m/bad.onnx'] }),
      import_model: (r) => ({ outcomes: [{ source: r.path, error: 'not image-to-image' }] }),
    });
    const onerror = vi.fn();
    const onchanged = vi.fn();
    render(ModelPicker, {
      models: MODELS,
      value: '',
      onselect: vi.fn(),
      native_dialogs: true,
      onerror,
      onchanged,
      api,
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Import model…' }));
    await waitFor(() => expect(onerror).toHaveBeenCalledWith('/m/bad.onnx: not image-to-image'));
    expect(onchanged).not.toHaveBeenCalled();
  });

  it('opens EditModel for the selected model', async () => {
    render(ModelPicker, { models: MODELS, value: 'my-span', onselect: vi.fn(), api: fakeApi() });
    await fireEvent.click(screen.getByTestId('edit-model-open'));
    expect(screen.getByRole('dialog')).toBeInTheDocument();
    expect(screen.getByTestId('edit-name')).toHaveValue('My SPAN');
  });
});

describe('EditModel', () => {
  it('says when the model requires a batch size and that the setting is overridden', async () => {
    render(EditModel, {
      model: model({ id: 'm', fixed_batch: 1, batch_size: null }),
      onclose: vi.fn(),
      api: fakeApi(),
    });
    expect(screen.getByTestId('fixed-batch')).toHaveTextContent('This model requires batch size 1.');
    await fireEvent.input(screen.getByTestId('edit-batch'), { target: { value: '4' } });
    expect(screen.getByTestId('fixed-batch')).toHaveTextContent('Your setting of 4 will be overridden.');
  });

  it('saves the changed fields with edit_model', async () => {
    const api = fakeApi({
      edit_model: (r) => model({ id: r.model_id, display_name: r.display_name ?? 'x' }),
    });
    const onclose = vi.fn();
    const onsaved = vi.fn();
    render(EditModel, { model: model({ id: 'm', display_name: 'Old' }), onclose, onsaved, api });
    await fireEvent.input(screen.getByTestId('edit-name'), { target: { value: 'New name' } });
    await fireEvent.change(screen.getByTestId('edit-scenario'), { target: { value: 'Digital Art' } });
    await fireEvent.input(screen.getByTestId('edit-batch'), { target: { value: '2' } });
    await fireEvent.input(screen.getByTestId('edit-tile'), { target: { value: '256' } });
    await fireEvent.click(screen.getByTestId('edit-save'));
    await waitFor(() => expect(onclose).toHaveBeenCalled());
    expect(api.requests('edit_model')).toEqual([
      { model_id: 'm', display_name: 'New name', scenario: 'Digital Art', batch_size: 2, tile_size: 256 },
    ]);
    expect(onsaved).toHaveBeenCalled();
  });

  it('refuses a batch size outside 1–8 and closes on Escape', async () => {
    const onclose = vi.fn();
    render(EditModel, { model: model(), onclose, api: fakeApi() });
    await fireEvent.input(screen.getByTestId('edit-batch'), { target: { value: '9' } });
    expect(screen.getByTestId('edit-save')).toBeDisabled();
    expect(screen.getByText(/Batch size is a whole number from 1 to 8/)).toBeInTheDocument();
    await fireEvent.keyDown(screen.getByRole('dialog'), { key: 'Escape' });
    expect(onclose).toHaveBeenCalled();
  });

  it('shows the error when saving fails and stays open', async () => {
    const api = fakeApi({
      edit_model: () => {
        throw new Error('model_config.json is read-only');
      },
    });
    const onclose = vi.fn();
    render(EditModel, { model: model(), onclose, api });
    await fireEvent.input(screen.getByTestId('edit-name'), { target: { value: 'X' } });
    await fireEvent.click(screen.getByTestId('edit-save'));
    expect(await screen.findByRole('alert')).toHaveTextContent('model_config.json is read-only');
    expect(onclose).not.toHaveBeenCalled();
  });
});
