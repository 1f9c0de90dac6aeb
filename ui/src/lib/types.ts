/* tslint:disable */
/* eslint-disable */
/**
/* This file was automatically generated from pydantic models by running pydantic2ts.
/* Do not modify it by hand - just update the pydantic models and then re-run the script
*/

/**
 * What every bridge method returns instead of its reply when it fails: one line for a toast.
 */
export interface ApiError {
  code: "invalid_request" | "not_found" | "unavailable" | "conflict" | "internal" | "starting" | "closed";
  message: string;
  /**
   * Which failure, when the request failed on what it asked (unknown model...)
   */
  kind?:
    | (
        | "not_found"
        | "unreadable"
        | "not_an_image"
        | "empty"
        | "truncated"
        | "damaged"
        | "unsupported"
        | "too_large"
        | "output_exists"
        | "output_is_input"
        | "unwritable"
        | "disk_full"
        | "format_limit"
        | "encode_failed"
        | "unknown_model"
        | "bad_model"
        | "name_taken"
        | "engine_failed"
        | "out_of_memory"
        | "invalid_request"
        | "bad_template"
        | "no_images"
        | "no_face_model"
        | "unavailable"
        | "conflict"
        | "cancelled"
        | "internal"
      )
    | null;
}
/**
 * What this build and this front end can do; the UI disables the rest and says why.
 */
export interface Capabilities {
  /**
   * pick_files/pick_folder/pick_output open a native dialog
   */
  native_dialogs: boolean;
  /**
   * Dropped files are uploaded (browser) instead of given as paths
   */
  uploads: boolean;
  /**
   * None = available; otherwise why not
   */
  faces: string | null;
}
/**
 * Fields left out keep their value; a field sent as null goes back to pixup's choice. The fields
 * are model_config.json's (`ModelOverride`), for the model `model_id`.
 */
export interface EditModelRequest {
  display_name?: string | null;
  scenario?:
    | ("Universal Fast" | "Universal Balanced" | "Universal Quality" | "Digital Art" | "Fix Compression" | "Custom")
    | null;
  batch_size?: number | null;
  tile_size?: number | null;
  model_id: string;
}
/**
 * The request of methods that take nothing.
 */
export interface Empty {}
export interface FileRef {
  job_id: string;
  /**
   * The file's `input` path as the job snapshot lists it
   */
  file: string;
}
/**
 * The outcome of one input file; the CLI prints it as one JSON line with --json.
 */
export interface FileResult {
  input: string;
  /**
   * The file written; after a failure once it had a name, where it would go
   */
  output?: string | null;
  status: "queued" | "running" | "done" | "failed" | "cancelled";
  /**
   * Why it failed or was cancelled
   */
  error_code?:
    | (
        | "not_found"
        | "unreadable"
        | "not_an_image"
        | "empty"
        | "truncated"
        | "damaged"
        | "unsupported"
        | "too_large"
        | "output_exists"
        | "output_is_input"
        | "unwritable"
        | "disk_full"
        | "format_limit"
        | "encode_failed"
        | "unknown_model"
        | "bad_model"
        | "name_taken"
        | "engine_failed"
        | "out_of_memory"
        | "invalid_request"
        | "bad_template"
        | "no_images"
        | "no_face_model"
        | "unavailable"
        | "conflict"
        | "cancelled"
        | "internal"
      )
    | null;
  /**
   * What went wrong, without the file's path (front ends name the file)
   */
  error?: string | null;
  width?: number | null;
  height?: number | null;
  out_width?: number | null;
  out_height?: number | null;
  seconds?: number | null;
  model?: string | null;
  provider?: string | null;
  notices?: string[];
}
/**
 * One file of a job as the UI shows it: a FileResult while it is still queued or running too.
 */
export interface FileState {
  input: string;
  /**
   * The file written; after a failure once it had a name, where it would go
   */
  output?: string | null;
  status: "queued" | "running" | "done" | "failed" | "cancelled";
  /**
   * Why it failed or was cancelled
   */
  error_code?:
    | (
        | "not_found"
        | "unreadable"
        | "not_an_image"
        | "empty"
        | "truncated"
        | "damaged"
        | "unsupported"
        | "too_large"
        | "output_exists"
        | "output_is_input"
        | "unwritable"
        | "disk_full"
        | "format_limit"
        | "encode_failed"
        | "unknown_model"
        | "bad_model"
        | "name_taken"
        | "engine_failed"
        | "out_of_memory"
        | "invalid_request"
        | "bad_template"
        | "no_images"
        | "no_face_model"
        | "unavailable"
        | "conflict"
        | "cancelled"
        | "internal"
      )
    | null;
  /**
   * What went wrong, without the file's path (front ends name the file)
   */
  error?: string | null;
  width?: number | null;
  height?: number | null;
  out_width?: number | null;
  out_height?: number | null;
  seconds?: number | null;
  model?: string | null;
  provider?: string | null;
  notices?: string[];
  /**
   * File name for display (the input path's last part)
   */
  name: string;
  stage?: "queued" | "loading" | "repair" | "upscale" | "faces" | "write" | "finished";
  tiles_done?: number;
  tiles_total?: number;
  /**
   * Seconds left for this file; None = unknown
   */
  eta_s?: number | null;
}
export interface GpuInfo {
  name: string;
  vram_total: number;
  vram_used: number;
}
export interface ImportOutcomeInfo {
  source: string;
  model_id?: string | null;
  error?: string | null;
  /**
   * Stored as a face model for Face recovery
   */
  face?: boolean;
  notes?: string[];
}
export interface ImportResult {
  outcomes: ImportOutcomeInfo[];
}
export interface JobList {
  jobs: JobSnapshot[];
}
/**
 * A job at one moment. Files are listed in processing order.
 */
export interface JobSnapshot {
  job_id: string;
  status: "queued" | "running" | "done" | "failed" | "cancelled";
  files: FileState[];
  /**
   * Why the whole job failed (bad model, no images)
   */
  error?: string | null;
  /**
   * Which failure `error` is
   */
  error_code?:
    | (
        | "not_found"
        | "unreadable"
        | "not_an_image"
        | "empty"
        | "truncated"
        | "damaged"
        | "unsupported"
        | "too_large"
        | "output_exists"
        | "output_is_input"
        | "unwritable"
        | "disk_full"
        | "format_limit"
        | "encode_failed"
        | "unknown_model"
        | "bad_model"
        | "name_taken"
        | "engine_failed"
        | "out_of_memory"
        | "invalid_request"
        | "bad_template"
        | "no_images"
        | "no_face_model"
        | "unavailable"
        | "conflict"
        | "cancelled"
        | "internal"
      )
    | null;
  notices?: string[];
  output_dir?: string | null;
  /**
   * Unix time of submission
   */
  created: number;
}
export interface JobRef {
  job_id: string;
}
export interface ModelInfo {
  id: string;
  display_name: string;
  /**
   * bundled, onnx, ncnn
   */
  source: string;
  /**
   * Scenario label (bundled), 'Custom' for imported models
   */
  scenario: string | null;
  description: string;
  nominal_scale: number | null;
  /**
   * model_config.json override
   */
  batch_size?: number | null;
  /**
   * model_config.json override
   */
  tile_size?: number | null;
  /**
   * Batch the model itself requires, when known
   */
  fixed_batch?: number | null;
}
export interface ModelList {
  models: ModelInfo[];
  scenarios: ScenarioInfo[];
  /**
   * model_config.json is invalid: why
   */
  config_error?: string | null;
  /**
   * Imported face models, by name
   */
  face_models?: string[];
}
export interface ScenarioInfo {
  name: "Universal Fast" | "Universal Balanced" | "Universal Quality" | "Digital Art";
  model_id: string;
  description: string;
}
/**
 * What the user changed for one model; None keeps pixup's choice.
 */
export interface ModelOverride {
  display_name?: string | null;
  scenario?:
    | ("Universal Fast" | "Universal Balanced" | "Universal Quality" | "Digital Art" | "Fix Compression" | "Custom")
    | null;
  batch_size?: number | null;
  tile_size?: number | null;
}
export interface Ok {
  ok?: boolean;
}
export interface PathList {
  paths: string[];
}
export interface PathRequest {
  path: string;
}
export interface PickRequest {
  multiple?: boolean;
}
export interface SelectModelRequest {
  /**
   * Model id or path; empty = the scenario's model
   */
  model?: string;
  scenario?: ("Universal Fast" | "Universal Balanced" | "Universal Quality" | "Digital Art") | null;
  precision?: "fast" | "exact";
}
export interface SelectModelResult {
  model_id: string;
  /**
   * False when skipped (little RAM): the upscale loads it instead
   */
  preloading: boolean;
}
/**
 * What the UI remembers between runs (config folder, settings.json).
 */
export interface Settings {
  scenario?: "Universal Fast" | "Universal Balanced" | "Universal Quality" | "Digital Art";
  /**
   * Advanced: a model id that overrides the scenario
   */
  model?: string;
  scale?: number;
  format?: ("png" | "webp" | "jpg" | "tiff") | null;
  quality?: number;
  output_dir?: string | null;
  repair_enabled?: boolean;
  repair_strength?: number;
  faces?: boolean;
  /**
   * Empty = the first imported face model
   */
  face_model?: string;
  precision?: "fast" | "exact";
  theme?: "system" | "dark" | "light";
}
export interface StartJobRequest {
  /**
   * Made by the caller (a UUID) before the request
   */
  job_id: string;
  /**
   * Files or folders
   *
   * @minItems 1
   */
  inputs: [string, ...string[]];
  options?: UpscaleOptions;
}
/**
 * What the user asked for; shared by every file of one job.
 */
export interface UpscaleOptions {
  /**
   * Bundled model id or a path; empty = the scenario's model
   */
  model?: string;
  /**
   * Picks the model when `model` is empty
   */
  scenario?: ("Universal Fast" | "Universal Balanced" | "Universal Quality" | "Digital Art") | null;
  /**
   * Target scale; None = model's own
   */
  scale?: number | null;
  /**
   * Tile size; None = automatic
   */
  tile?: number | null;
  /**
   * Tiles per inference; None = automatic
   */
  batch?: number | null;
  /**
   * None = keep the input format
   */
  format?: ("png" | "webp" | "jpg" | "tiff") | null;
  /**
   * JPEG/WebP quality
   */
  quality?: number | null;
  webp_lossless?: boolean;
  /**
   * zlib level for PNG/TIFF; 1 is 4x faster than 6 for 9% more bytes
   */
  png_compression?: number;
  jpeg_subsampling?: "4:4:4" | "4:2:0";
  jpeg_progressive?: boolean;
  /**
   * Colour transparent areas are flattened onto (JPEG)
   */
  background?: string;
  precision?: "fast" | "exact";
  /**
   * None = beside each input
   */
  output_dir?: string | null;
  name_template?: string;
  overwrite?: boolean;
  recursive?: boolean;
  /**
   * Lift the decompression-bomb guard
   */
  allow_large?: boolean;
  /**
   * Fix compression strength; 0 = off
   */
  repair?: number;
  /**
   * Face recovery
   */
  faces?: boolean;
  /**
   * Face model name or path; empty = the first imported
   */
  face_model?: string;
}
export interface SystemInfo {
  version: string;
  /**
   * Where inference runs, e.g. 'OpenVINO CPU'
   */
  device: string;
  /**
   * The execution provider of the loaded (or first-choice) session
   */
  provider: string;
  /**
   * Arithmetic actually used: bf16, fp16, fp32, int8
   */
  precision: string;
  providers: string[];
  cpu: string;
  ram_total: number;
  ram_used: number;
  gpus: GpuInfo[];
  eco_mode: boolean;
  loaded_model?: string | null;
}
export interface UploadResult {
  /**
   * Where the uploaded file now lies; use it as a job input
   */
  path: string;
}
