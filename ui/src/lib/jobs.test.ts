import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fakeApi, file, job } from '../test/fakes';
import { JobsController, failureLine, jobFailureLine, type FailureCode } from './jobs.svelte';
import type { JobSnapshot } from './types';

describe('JobsController', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('starts one job with a caller-made id and polls list_jobs until idle', async () => {
    let snapshot: JobSnapshot = job({ job_id: 'id-1', status: 'queued', files: [file({ input: '/a.png' })] });
    const api = fakeApi({
      start_job: (r) => {
        snapshot = { ...snapshot, job_id: r.job_id };
        return snapshot;
      },
      list_jobs: () => ({ jobs: [snapshot] }),
    });
    const notify = vi.fn();
    const jobs = new JobsController(api, { interval: 250, notify, newId: () => 'id-1' });
    await jobs.start(['/a.png', '/b.png'], { scale: 2 });
    expect(api.requests('start_job')).toEqual([
      { job_id: 'id-1', inputs: ['/a.png', '/b.png'], options: { scale: 2 } },
    ]);
    expect(jobs.polling).toBe(true);

    await vi.advanceTimersByTimeAsync(250);
    expect(api.requests('list_jobs')).toHaveLength(1);
    snapshot = job({
      job_id: 'id-1',
      status: 'running',
      files: [file({ input: '/a.png', status: 'running', tiles_done: 1, tiles_total: 4 })],
    });
    await vi.advanceTimersByTimeAsync(250);
    expect(jobs.jobs[0].files[0].tiles_done).toBe(1);

    snapshot = job({
      job_id: 'id-1',
      status: 'done',
      files: [file({ input: '/a.png', status: 'done', output: '/a_4x.png' })],
    });
    await vi.advanceTimersByTimeAsync(250);
    const polls = api.requests('list_jobs').length;
    expect(jobs.active).toBe(false);
    expect(jobs.polling).toBe(false);
    await vi.advanceTimersByTimeAsync(5000);
    expect(api.requests('list_jobs')).toHaveLength(polls);
    expect(notify).toHaveBeenCalledWith('success', 'Done: 1 file upscaled');
  });

  it('reports each notice and failure once', async () => {
    const snapshot = job({
      job_id: 'j',
      notices: [],
      files: [
        file({
          input: '/a.png',
          status: 'running',
          notices: ['Model requires batch size 1. Overriding your setting of 4.'],
        }),
        file({
          input: '/b.png',
          status: 'failed',
          error_code: 'not_an_image',
          error: 'not an image',
          notices: ['Model requires batch size 1. Overriding your setting of 4.'],
        }),
      ],
    });
    const api = fakeApi({ start_job: () => snapshot, list_jobs: () => ({ jobs: [snapshot] }) });
    const notify = vi.fn();
    const jobs = new JobsController(api, { interval: 100, notify, newId: () => 'j' });
    await jobs.start(['/a.png', '/b.png'], {});
    await vi.advanceTimersByTimeAsync(350);
    expect(notify.mock.calls).toEqual([
      ['warning', 'Model requires batch size 1. Overriding your setting of 4.'],
      ['error', 'b.png: not an image'],
    ]);
    jobs.dispose();
  });

  it('words a failed file from its code: its name, what went wrong, the remedy the app knows', () => {
    const failed = (error_code: FailureCode | null, error: string | null, output: string | null = null) =>
      failureLine({ name: 'b.png', error_code, error, output });
    expect(failed('not_an_image', 'not an image: it is a text file')).toBe(
      'b.png: not an image: it is a text file',
    );
    expect(failed('output_exists', 'the output file already exists', '/out/b_pixup_4x.png')).toBe(
      'b.png: b_pixup_4x.png already exists; choose another output folder',
    );
    expect(failed('internal', 'boom')).toBe('b.png: internal error: boom');
    expect(failed(null, null)).toBe('b.png: failed');
    expect(jobFailureLine({ error: 'not an ONNX model', error_code: 'bad_model' })).toBe('not an ONNX model');
    expect(jobFailureLine({ error: 'boom', error_code: 'internal' })).toBe('internal error: boom');
  });

  it('a silent first refresh remembers old notices without reporting them', async () => {
    const old = job({
      job_id: 'old',
      status: 'done',
      notices: ['old notice'],
      files: [file({ status: 'done' })],
    });
    const api = fakeApi({ list_jobs: () => ({ jobs: [old] }) });
    const notify = vi.fn();
    const jobs = new JobsController(api, { notify });
    await jobs.refresh(true);
    await jobs.refresh();
    expect(notify).not.toHaveBeenCalled();
    expect(jobs.jobs).toHaveLength(1);
    expect(jobs.polling).toBe(false);
  });

  it('cancel all cancels each active job; cancel file sends the input path', async () => {
    const a = job({ job_id: 'a', status: 'running' });
    const b = job({ job_id: 'b', status: 'queued' });
    const c = job({ job_id: 'c', status: 'done', files: [file({ status: 'done' })] });
    const api = fakeApi({
      list_jobs: () => ({ jobs: [a, b, c] }),
      cancel_job: (r) =>
        job({ job_id: r.job_id, status: 'cancelled', files: [file({ status: 'cancelled' })] }),
      cancel_file: (r) =>
        job({ job_id: r.job_id, status: 'cancelled', files: [file({ input: r.file, status: 'cancelled' })] }),
    });
    const jobs = new JobsController(api);
    await jobs.refresh(true);
    await jobs.cancelFile('a', '/photos/cat.png');
    expect(api.requests('cancel_file')).toEqual([{ job_id: 'a', file: '/photos/cat.png' }]);
    await jobs.cancelAll();
    expect(api.requests('cancel_job').map((r) => r.job_id)).toEqual(['b']);
    jobs.dispose();
  });

  it('a failing poll is reported once and polling goes on while jobs are active', async () => {
    let fail = true;
    const running = job({ job_id: 'r', status: 'running' });
    const api = fakeApi({
      start_job: () => running,
      list_jobs: () => {
        if (fail) throw new Error('connection refused');
        return { jobs: [{ ...running, status: 'done', files: [file({ status: 'done' })] }] };
      },
    });
    const notify = vi.fn();
    const jobs = new JobsController(api, { interval: 100, notify, newId: () => 'r' });
    await jobs.start(['/x.png'], {});
    await vi.advanceTimersByTimeAsync(350);
    expect(notify).toHaveBeenCalledTimes(1);
    expect(notify).toHaveBeenCalledWith('error', 'connection refused');
    fail = false;
    await vi.advanceTimersByTimeAsync(100);
    expect(jobs.active).toBe(false);
  });

  it('a poll that was under way when a job started does not drop that job', async () => {
    const a = job({ job_id: 'a', status: 'running' });
    let release: (v: { jobs: JobSnapshot[] }) => void = () => {};
    let slow = true;
    const api = fakeApi({
      list_jobs: () =>
        slow
          ? new Promise((resolve) => (release = resolve))
          : { jobs: [a, job({ job_id: 'b', status: 'running' })] },
      start_job: (r) => job({ job_id: r.job_id, status: 'queued' }),
    });
    const jobs = new JobsController(api, { interval: 100, newId: () => 'b' });
    const poll = jobs.refresh();
    await jobs.start(['/x.png'], {});
    release({ jobs: [a] }); // answered before job b existed
    await poll;
    expect(jobs.jobs.map((j) => j.job_id)).toEqual(['a', 'b']);
    slow = false;
    await vi.advanceTimersByTimeAsync(100);
    expect(jobs.jobs.map((j) => j.job_id)).toEqual(['a', 'b']);
    jobs.dispose();
  });

  it('cleared finished jobs stay cleared after the next poll', async () => {
    const done = job({ job_id: 'd', status: 'done', files: [file({ status: 'done' })] });
    const api = fakeApi({ list_jobs: () => ({ jobs: [done] }) });
    const jobs = new JobsController(api);
    await jobs.refresh(true);
    expect(jobs.jobs).toHaveLength(1);
    jobs.clearFinished();
    await jobs.refresh();
    expect(jobs.jobs).toHaveLength(0);
  });
});
