import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import App from './App.svelte';
import { PATHS_EVENT } from './lib/events';
import type { Capabilities, JobSnapshot, Settings } from './lib/types';
import { BROWSER, MODELS, SYSTEM, WINDOW, fakeApi, file } from './test/fakes';

function backend(capabilities: Capabilities, settings: Settings = {}) {
  let jobs: JobSnapshot[] = [];
  let saved: Settings = { scenario: 'Universal Fast', scale: 4, theme: 'dark', ...settings };
  const api = fakeApi({
    capabilities: () => capabilities,
    get_settings: () => saved,
    set_settings: (s) => (saved = s),
    list_models: () => MODELS,
    list_jobs: () => ({ jobs }),
    system_info: () => SYSTEM,
    select_model: (r) => ({ model_id: r.model || 'x', preloading: true }),
    start_job: (r) => {
      const snapshot: JobSnapshot = {
        job_id: r.job_id,
        status: 'running',
        created: 1,
        notices: [],
        files: r.inputs.map((input, i) =>
          file({ input, status: i === 0 ? 'running' : 'queued', tiles_total: 8, tiles_done: 0 }),
        ),
      };
      jobs = [snapshot];
      return snapshot;
    },
    cancel_file: (r) => {
      jobs = jobs.map((j) => ({
        ...j,
        files: j.files.map((f) => (f.input === r.file ? { ...f, status: 'cancelled' as const } : f)),
      }));
      return jobs[0];
    },
  });
  return {
    api,
    get saved() {
      return saved;
    },
    setJobs(next: JobSnapshot[]) {
      jobs = next;
    },
  };
}

afterEach(() => document.documentElement.classList.remove('dark'));

describe('App', () => {
  it('window mode: paths from Python go to pending, Start submits one job with the options', async () => {
    const server = backend(WINDOW, { repair_enabled: true, repair_strength: 60, faces: true, scale: 2 });
    render(App, { api: server.api, pollMs: 20, saveMs: 10, systemMs: 60_000 });
    await screen.findByTestId('dropzone');
    await waitFor(() => expect(server.api.requests('list_models')).toHaveLength(1));
    expect(screen.getByTestId('start')).toBeDisabled();
    expect(document.documentElement.classList.contains('dark')).toBe(true);

    window.dispatchEvent(new CustomEvent(PATHS_EVENT, { detail: { paths: ['/pics/a.png', '/pics/b.png'] } }));
    window.dispatchEvent(new CustomEvent(PATHS_EVENT, { detail: { paths: ['/pics/a.png'] } }));
    await waitFor(() => expect(screen.getAllByTestId('pending-row')).toHaveLength(2));
    expect(server.api.upload).not.toHaveBeenCalled();

    await fireEvent.click(screen.getByTestId('start'));
    await waitFor(() => expect(server.api.requests('start_job')).toHaveLength(1));
    const request = server.api.requests('start_job')[0];
    expect(request.job_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(request.inputs).toEqual(['/pics/a.png', '/pics/b.png']);
    expect(request.options).toMatchObject({ scenario: 'Universal Fast', scale: 2, repair: 60, faces: true });

    const rows = await screen.findAllByTestId('file-row');
    expect(rows.map((r) => r.dataset.status)).toEqual(['running', 'queued']);
    expect(screen.queryAllByTestId('pending-row')).toHaveLength(0);

    await fireEvent.click(within(rows[1]).getByTestId('cancel-file'));
    await waitFor(() =>
      expect(server.api.requests('cancel_file')).toEqual([{ job_id: request.job_id, file: '/pics/b.png' }]),
    );
    await waitFor(() => expect(screen.getAllByTestId('file-row')[1].dataset.status).toBe('cancelled'));
  });

  it('polls until done, toasts the notice once and opens the comparison from a done row', async () => {
    const server = backend(BROWSER);
    render(App, { api: server.api, pollMs: 20, saveMs: 10, systemMs: 60_000 });
    const input = await screen.findByTestId('file-input');
    await fireEvent.change(input, { target: { files: [new File(['x'], 'cat.png', { type: 'image/png' })] } });
    await waitFor(() => expect(screen.getAllByTestId('pending-row')).toHaveLength(1));
    await fireEvent.click(screen.getByTestId('start'));
    await screen.findByTestId('file-row');
    const jobId = server.api.requests('start_job')[0].job_id;
    const notice = 'Model requires batch size 1. Overriding your setting of 4.';
    server.setJobs([
      {
        job_id: jobId,
        status: 'done',
        created: 1,
        notices: [notice],
        files: [
          file({
            input: '/srv/uploads/cat.png',
            status: 'done',
            output: '/out/cat_pixup_4x.png',
            out_width: 400,
            out_height: 300,
            notices: [notice],
          }),
        ],
      },
    ]);
    await waitFor(() => expect(screen.getByTestId('file-row').dataset.status).toBe('done'));
    const toasts = await screen.findAllByTestId('toast');
    expect(toasts.filter((t) => t.textContent?.includes(notice))).toHaveLength(1);
    // polling stopped
    const polls = server.api.requests('list_jobs').length;
    await new Promise((r) => setTimeout(r, 100));
    expect(server.api.requests('list_jobs').length).toBe(polls);

    await fireEvent.click(screen.getByTestId('file-row'));
    const compare = await screen.findByTestId('compare');
    expect(within(compare).getByTestId('compare-before')).toHaveAttribute(
      'src',
      '/api/file?path=%2Fsrv%2Fuploads%2Fcat.png&token=t',
    );
    expect(within(compare).getByTestId('compare-after')).toHaveAttribute(
      'src',
      '/api/file?path=%2Fout%2Fcat_pixup_4x.png&token=t',
    );
    await fireEvent.click(screen.getByTestId('compare-close'));
    expect(screen.queryByTestId('compare')).toBeNull();
  });

  it('loads settings and saves changes (debounced, only the changed state)', async () => {
    const server = backend(BROWSER, { scale: 3, output_dir: '/keep' });
    render(App, { api: server.api, pollMs: 20, saveMs: 30, systemMs: 60_000 });
    const scale = (await screen.findByTestId('scale')) as HTMLSelectElement;
    expect(scale.value).toBe('3');
    expect(screen.getByTestId('output-dir')).toHaveValue('/keep');
    await new Promise((r) => setTimeout(r, 60));
    expect(server.api.requests('set_settings')).toHaveLength(0);

    await fireEvent.change(scale, { target: { value: '8' } });
    await fireEvent.input(screen.getByTestId('output-dir'), { target: { value: '/new' } });
    await waitFor(() => expect(server.api.requests('set_settings')).toHaveLength(1));
    expect(server.saved).toMatchObject({ scale: 8, output_dir: '/new' });

    await fireEvent.click(screen.getByTestId('theme-toggle'));
    await waitFor(() => expect(server.saved.theme).toBe('system'));
  });

  it('shows why when pixup does not answer, and retries', async () => {
    const server = backend(BROWSER);
    let up = false;
    server.api.handlers.capabilities = () => {
      if (!up) throw new Error('connection refused');
      return BROWSER;
    };
    render(App, { api: server.api, systemMs: 60_000 });
    expect(await screen.findByText(/connection refused/)).toBeInTheDocument();
    up = true;
    await fireEvent.click(screen.getByRole('button', { name: 'Retry' }));
    expect(await screen.findByTestId('dropzone')).toBeInTheDocument();
  });

  it('a failed start keeps the pending files and says why', async () => {
    const server = backend(WINDOW);
    server.api.handlers.start_job = () => {
      throw new Error('Output folder is not writable');
    };
    render(App, { api: server.api, systemMs: 60_000 });
    await screen.findByTestId('dropzone');
    window.dispatchEvent(new CustomEvent(PATHS_EVENT, { detail: { paths: ['/a.png'] } }));
    await waitFor(() => expect(screen.getAllByTestId('pending-row')).toHaveLength(1));
    await fireEvent.click(screen.getByTestId('start'));
    const toast = await screen.findByTestId('toast');
    expect(toast).toHaveTextContent('Could not start: Output folder is not writable');
    expect(screen.getAllByTestId('pending-row')).toHaveLength(1);
  });
});
