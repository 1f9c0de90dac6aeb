/** Sample replies shared by tests and stories (no test runner imports here). */
import type { Capabilities, FileState, JobSnapshot, ModelInfo, ModelList, SystemInfo } from '../lib/types';

export const BROWSER: Capabilities = { native_dialogs: false, uploads: true, faces: null };
export const WINDOW: Capabilities = { native_dialogs: true, uploads: false, faces: null };

export function file(overrides: Partial<FileState> = {}): FileState {
  const input = overrides.input ?? '/photos/cat.png';
  return {
    input,
    name: input.split('/').pop() ?? input,
    status: 'queued',
    output: null,
    error: null,
    tiles_done: 0,
    tiles_total: 0,
    eta_s: null,
    notices: [],
    ...overrides,
  };
}

export function job(overrides: Partial<JobSnapshot> = {}): JobSnapshot {
  return {
    job_id: 'job-1',
    status: 'running',
    files: [file()],
    error: null,
    notices: [],
    output_dir: null,
    created: 1_700_000_000,
    ...overrides,
  };
}

export function model(overrides: Partial<ModelInfo> = {}): ModelInfo {
  return {
    id: 'realesr-animevideov3-x4',
    display_name: 'Real-ESRGAN AnimeVideo v3 ×4',
    source: 'bundled',
    scenario: 'Universal Fast',
    description: 'Fast general model',
    nominal_scale: 4,
    batch_size: null,
    tile_size: null,
    fixed_batch: null,
    ...overrides,
  };
}

export const MODELS: ModelList = {
  models: [
    model(),
    model({
      id: 'waifu2x-cunet-x2',
      display_name: 'waifu2x CUNet ×2',
      scenario: 'Digital Art',
      nominal_scale: 2,
    }),
    model({
      id: 'my-span',
      display_name: 'My SPAN',
      source: 'onnx',
      scenario: 'Custom',
      description: 'Imported',
      fixed_batch: 1,
    }),
  ],
  scenarios: [
    { name: 'Universal Fast', model_id: 'realesr-animevideov3-x4', description: 'Fastest.' },
    { name: 'Universal Balanced', model_id: 'waifu2x-photo-x2', description: 'Balanced.' },
    { name: 'Universal Quality', model_id: 'waifu2x-cunet-x2', description: 'Best photos.' },
    { name: 'Digital Art', model_id: 'waifu2x-cunet-x2', description: 'Line art.' },
  ],
  config_error: null,
};

export const SYSTEM: SystemInfo = {
  version: '0.1.0',
  device: 'OpenVINO CPU',
  provider: 'OpenVINOExecutionProvider',
  precision: 'bf16',
  providers: ['OpenVINOExecutionProvider', 'CPUExecutionProvider'],
  cpu: 'Test CPU',
  ram_total: 16 * 1024 ** 3,
  ram_used: 4 * 1024 ** 3,
  gpus: [{ name: 'RTX Test', vram_total: 8 * 1024 ** 3, vram_used: 2 * 1024 ** 3 }],
  eco_mode: false,
  loaded_model: null,
};
