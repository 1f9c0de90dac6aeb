import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { fakeApi, file, job } from '../../test/fakes';
import type { JobSnapshot } from '../types';
import BatchView from './BatchView.svelte';

const LONG = 'a-very-long-file-name-that-would-never-fit-in-one-row-of-the-queue-view-at-all.png';

function jobs(): JobSnapshot[] {
  return [
    job({
      job_id: 'job-a',
      status: 'running',
      output_dir: '/out',
      files: [
        file({
          input: '/in/done.png',
          status: 'done',
          output: '/out/done_pixup_4x.png',
          out_width: 1024,
          out_height: 768,
          tiles_done: 4,
          tiles_total: 4,
        }),
        file({ input: `/in/${LONG}`, status: 'running', tiles_done: 3, tiles_total: 12, eta_s: 75 }),
        file({ input: '/in/next.png', status: 'queued' }),
        file({ input: '/in/bad.png', status: 'failed', error: 'bad.png is not an image' }),
      ],
    }),
    job({ job_id: 'job-b', status: 'running', files: [file({ input: '/in/b.png', status: 'running' })] }),
    job({ job_id: 'job-old', status: 'done', files: [file({ input: '/in/old.png', status: 'cancelled' })] }),
  ];
}

describe('BatchView', () => {
  it('renders one row per file with data-status, progress, ETA and error', () => {
    render(BatchView, { jobs: jobs(), api: fakeApi() });
    const rows = screen.getAllByTestId('file-row');
    expect(rows.map((r) => r.dataset.status)).toEqual([
      'done',
      'running',
      'queued',
      'failed',
      'running',
      'cancelled',
    ]);
    const running = rows[1];
    expect(within(running).getByTestId('progress')).toHaveAttribute('aria-valuenow', '25');
    expect(within(running).getByText('3/12 tiles')).toBeInTheDocument();
    expect(within(running).getByTestId('eta')).toHaveTextContent('1 min 15 s left');
    expect(within(rows[0]).getByTestId('progress')).toHaveAttribute('aria-valuenow', '100');
    expect(within(rows[3]).getByTestId('file-error')).toHaveTextContent('bad.png is not an image');
    // long names are truncated with the full path as a tooltip
    const name = within(running).getByTestId('file-name');
    expect(name).toHaveTextContent(LONG);
    expect(name).toHaveAttribute('title', `/in/${LONG}`);
    expect(name.className).toContain('truncate');
  });

  it('cancel on a row calls cancel_file with that file input path and its job', async () => {
    const api = fakeApi({ cancel_file: (r) => job({ job_id: r.job_id }) });
    render(BatchView, { jobs: jobs(), api });
    const row = screen.getAllByTestId('file-row')[1];
    await fireEvent.click(within(row).getByTestId('cancel-file'));
    await waitFor(() =>
      expect(api.requests('cancel_file')).toEqual([{ job_id: 'job-a', file: `/in/${LONG}` }]),
    );
    // finished rows cannot be cancelled
    expect(within(screen.getAllByTestId('file-row')[0]).getByTestId('cancel-file')).toBeDisabled();
  });

  it('cancel all cancels every active job (and only those)', async () => {
    const api = fakeApi({ cancel_job: (r) => job({ job_id: r.job_id, status: 'cancelled' }) });
    render(BatchView, { jobs: jobs(), api });
    await fireEvent.click(screen.getByTestId('cancel-all'));
    await waitFor(() => expect(api.requests('cancel_job')).toHaveLength(2));
    expect(
      api
        .requests('cancel_job')
        .map((r) => r.job_id)
        .sort(),
    ).toEqual(['job-a', 'job-b']);
  });

  it('uses the callbacks when given (the app routes them through its job controller)', async () => {
    const oncancelfile = vi.fn();
    const oncancelall = vi.fn();
    const api = fakeApi();
    render(BatchView, { jobs: jobs(), api, oncancelfile, oncancelall });
    await fireEvent.click(within(screen.getAllByTestId('file-row')[2]).getByTestId('cancel-file'));
    expect(oncancelfile).toHaveBeenCalledWith('job-a', '/in/next.png');
    await fireEvent.click(screen.getByTestId('cancel-all'));
    expect(oncancelall).toHaveBeenCalledTimes(1);
    expect(api.call).not.toHaveBeenCalled();
  });

  it('cancel all is disabled when nothing is active', () => {
    render(BatchView, { jobs: [jobs()[2]], api: fakeApi() });
    expect(screen.getByTestId('cancel-all')).toBeDisabled();
  });

  it('clicking a done row opens it; other rows do not', async () => {
    const onopen = vi.fn();
    render(BatchView, { jobs: jobs(), api: fakeApi(), onopen });
    const rows = screen.getAllByTestId('file-row');
    await fireEvent.click(rows[1]);
    expect(onopen).not.toHaveBeenCalled();
    await fireEvent.click(rows[0]);
    expect(onopen).toHaveBeenCalledTimes(1);
    expect(onopen.mock.calls[0][0].input).toBe('/in/done.png');
  });

  it('Open output calls open_output with the result', async () => {
    const api = fakeApi({ open_output: () => ({ ok: true }) });
    const onopen = vi.fn();
    render(BatchView, { jobs: jobs(), api, onopen });
    await fireEvent.click(screen.getByRole('button', { name: 'Open output' }));
    await waitFor(() => expect(api.requests('open_output')).toEqual([{ path: '/out/done_pixup_4x.png' }]));
    expect(onopen).not.toHaveBeenCalled();
  });

  it('says so when the queue is empty', () => {
    render(BatchView, { jobs: [], api: fakeApi() });
    expect(screen.queryAllByTestId('file-row')).toHaveLength(0);
    expect(screen.getByText(/Nothing queued yet/)).toBeInTheDocument();
  });
});

describe('BatchView stages', () => {
  it('a running file shows its stage when Python sends one', () => {
    const running = { ...file({ input: '/in/x.png', status: 'running' }), stage: 'write' as const };
    render(BatchView, { jobs: [job({ files: [running] })], api: fakeApi() });
    expect(screen.getByTestId('file-status')).toHaveTextContent('Saving');
  });
});

describe('BatchView downloads', () => {
  it('browser mode offers the result as a download beside Open output', () => {
    render(BatchView, {
      jobs: [job({ status: 'done', files: [file({ status: 'done', output: '/out/cat 4x.png' })] })],
      api: fakeApi(),
      download: true,
    });
    const link = screen.getByTestId('download');
    expect(link).toHaveAttribute('href', '/api/file?path=%2Fout%2Fcat%204x.png&token=t');
    expect(link).toHaveAttribute('download', 'cat 4x.png');
    expect(screen.getByTestId('open-output')).toBeInTheDocument();
  });
});
