import { errorMessage, type Api } from './api';
import { basename } from './format';
import type { FileState, JobSnapshot, UpscaleOptions } from './types';

export type Status = JobSnapshot['status'];

export const POLL_MS = 250;

export function isActiveStatus(status: Status): boolean {
  return status === 'queued' || status === 'running';
}

export function isJobActive(job: JobSnapshot): boolean {
  return isActiveStatus(job.status) || job.files.some((f) => isActiveStatus(f.status));
}

export interface JobsNotify {
  (kind: 'info' | 'success' | 'warning' | 'error', message: string): void;
}

export interface JobsOptions {
  /** Poll interval while anything is queued or running. */
  interval?: number;
  /** Where notices, failures and completions go (the toast stack). */
  notify?: JobsNotify;
  /** Make job ids (tests). */
  newId?: () => string;
}

/**
 * The queue as Python reports it. Starts jobs with a caller-made id, polls `list_jobs` every
 * `interval` ms while any job is queued or running (and stops when idle), reports each notice,
 * failure and finished job once.
 */

/** Why a file or a job failed (pixup.errors.FailureCode): the app words failures from it. */
export type FailureCode = NonNullable<FileState['error_code']>;

/** What the app can suggest for a failure whose remedy it knows. */
const FAILURE_HINTS: Partial<Record<FailureCode, string>> = {
  output_exists: 'choose another output folder',
  too_large: 'the command line reads it with --allow-large',
};

/** A failed file's toast, worded from its code: its name, what went wrong, what to do. */
export function failureLine(file: Pick<FileState, 'name' | 'output' | 'error' | 'error_code'>): string {
  const code = file.error_code ?? null;
  let what = file.error ?? 'failed';
  if (code === 'output_exists' && file.output) what = `${basename(file.output)} already exists`;
  else if (code === 'internal') what = `internal error: ${what}`;
  const hint = code ? FAILURE_HINTS[code] : undefined;
  return `${file.name}: ${what}${hint ? `; ${hint}` : ''}`;
}

/** Why a whole job failed, in one line. */
export function jobFailureLine(job: Pick<JobSnapshot, 'error' | 'error_code'>): string {
  return job.error_code === 'internal' ? `internal error: ${job.error}` : (job.error ?? 'failed');
}

export class JobsController {
  jobs = $state<JobSnapshot[]>([]);
  readonly interval: number;
  #api: Api;
  #notify: JobsNotify;
  #newId: () => string;
  #timer: ReturnType<typeof setTimeout> | null = null;
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- bookkeeping, never rendered
  #seen = new Set<string>();
  /** Started here but not yet in a list_jobs reply (a poll already under way may not have it). */
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- bookkeeping, never rendered
  #unconfirmed = new Set<string>();
  /** Finished jobs the user cleared from the view (Python still lists them). */
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- bookkeeping, never rendered
  #hidden = new Set<string>();
  #lastError = '';
  #disposed = false;

  constructor(api: Api, options: JobsOptions = {}) {
    this.#api = api;
    this.interval = options.interval ?? POLL_MS;
    this.#notify = options.notify ?? (() => {});
    this.#newId = options.newId ?? (() => crypto.randomUUID());
  }

  get active(): boolean {
    return this.jobs.some(isJobActive);
  }

  get polling(): boolean {
    return this.#timer !== null;
  }

  /** Every file of every job, in order, with its job. */
  get rows(): { job: JobSnapshot; file: FileState }[] {
    return this.jobs.flatMap((job) => job.files.map((file) => ({ job, file })));
  }

  /** One job with all the inputs. */
  async start(inputs: string[], options: UpscaleOptions): Promise<JobSnapshot> {
    if (inputs.length === 0) throw new Error('Nothing to upscale');
    const job_id = this.#newId();
    const snapshot = await this.#api.call('start_job', {
      job_id,
      inputs: inputs as [string, ...string[]],
      options,
    });
    this.#unconfirmed.add(snapshot.job_id);
    this.#upsert(snapshot);
    this.#schedule();
    return snapshot;
  }

  /** Ask Python for every job now. `silent`: remember what is there without reporting it (page load). */
  async refresh(silent = false): Promise<void> {
    try {
      const { jobs } = await this.#api.call('list_jobs', {});
      this.#lastError = '';
      if (this.#disposed) return;
      // eslint-disable-next-line svelte/prefer-svelte-reactivity -- a local, not state
      const listed = new Set(jobs.map((job) => job.job_id));
      for (const id of listed) this.#unconfirmed.delete(id);
      const missing = this.jobs.filter((job) => this.#unconfirmed.has(job.job_id) && !listed.has(job.job_id));
      this.jobs = [...jobs.filter((job) => !this.#hidden.has(job.job_id)), ...missing];
      for (const job of jobs) this.#report(job, silent);
    } catch (error) {
      const message = errorMessage(error);
      if (message !== this.#lastError) this.#notify('error', message);
      this.#lastError = message;
    }
    this.#schedule();
  }

  async cancelFile(jobId: string, file: string): Promise<void> {
    try {
      this.#upsert(await this.#api.call('cancel_file', { job_id: jobId, file }));
    } catch (error) {
      this.#notify('error', errorMessage(error));
    }
  }

  async cancelAll(): Promise<void> {
    const active = this.jobs.filter(isJobActive);
    await Promise.all(
      active.map(async (job) => {
        try {
          this.#upsert(await this.#api.call('cancel_job', { job_id: job.job_id }));
        } catch (error) {
          this.#notify('error', errorMessage(error));
        }
      }),
    );
  }

  /** Drop finished jobs from the view (Python keeps them). */
  clearFinished(): void {
    for (const job of this.jobs) if (!isJobActive(job)) this.#hidden.add(job.job_id);
    this.jobs = this.jobs.filter(isJobActive);
  }

  dispose(): void {
    this.#disposed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #upsert(snapshot: JobSnapshot): void {
    const index = this.jobs.findIndex((job) => job.job_id === snapshot.job_id);
    if (index >= 0) this.jobs[index] = snapshot;
    else this.jobs.push(snapshot);
    this.#report(snapshot, false);
  }

  #once(key: string, silent: boolean, kind: Parameters<JobsNotify>[0], message: string): void {
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    if (!silent) this.#notify(kind, message);
  }

  #report(job: JobSnapshot, silent: boolean): void {
    const id = job.job_id;
    for (const notice of job.notices ?? []) this.#once(`${id}|notice|${notice}`, silent, 'warning', notice);
    for (const file of job.files) {
      for (const notice of file.notices ?? []) {
        // The same override usually comes for every file of a job: once per job is enough.
        this.#once(`${id}|notice|${notice}`, silent, 'warning', notice);
      }
      if (file.status === 'failed') {
        this.#once(`${id}|failed|${file.input}`, silent, 'error', failureLine(file));
      }
    }
    if (job.error) this.#once(`${id}|error`, silent, 'error', jobFailureLine(job));
    if (!isJobActive(job) && job.status !== 'cancelled') {
      const done = job.files.filter((f) => f.status === 'done').length;
      if (done > 0) {
        this.#once(
          `${id}|finished`,
          silent,
          'success',
          `Done: ${done} ${done === 1 ? 'file' : 'files'} upscaled`,
        );
      }
    }
  }

  #schedule(): void {
    if (this.#disposed || this.#timer !== null || !this.active) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.refresh();
    }, this.interval);
  }
}
