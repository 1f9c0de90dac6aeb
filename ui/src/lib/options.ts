import { DEFAULT_SETTINGS, OUTPUT_FORMATS, type OutputFormat } from './constants';
import type { Capabilities, Settings, UpscaleOptions } from './types';

// The lists and defaults are Python's (generated into ./constants); this module only words them.
export { DEFAULT_SETTINGS, SCENARIOS, type OutputFormat, type Scenario } from './constants';

export const SCALES: readonly number[] = [1, 2, 3, 4, 6, 8];

/** How the format menu names each format: a format Python adds fails the type check until named here. */
const FORMAT_LABELS: Record<OutputFormat, string> = { png: 'PNG', webp: 'WebP', jpg: 'JPEG', tiff: 'TIFF' };

export const FORMATS: readonly { value: OutputFormat | null; label: string }[] = [
  { value: null, label: 'Keep input format' },
  ...OUTPUT_FORMATS.map((value) => ({ value, label: FORMAT_LABELS[value] })),
];

/** Every field set: Python's values, its defaults for the missing ones; fields newer than this UI are kept. */
export function withDefaults(settings: Settings): Required<Settings> {
  const merged: Record<string, unknown> = { ...DEFAULT_SETTINGS };
  for (const [key, value] of Object.entries(settings)) {
    if (value !== undefined) merged[key] = value;
  }
  return merged as Required<Settings>;
}

/** Whether a format takes a quality (keep: the input may be a JPEG/WebP). */
export function formatHasQuality(format: Settings['format']): boolean {
  return format === null || format === undefined || format === 'jpg' || format === 'webp';
}

/** What Start sends: the control panel's settings as job options. */
export function optionsFromSettings(
  settings: Settings,
  capabilities?: Pick<Capabilities, 'faces'> | null,
): UpscaleOptions {
  const s = withDefaults(settings);
  const facesAvailable = !capabilities || capabilities.faces === null;
  const options: UpscaleOptions = {
    model: s.model,
    scenario: s.model ? null : s.scenario,
    scale: s.scale,
    format: s.format,
    precision: s.precision,
    output_dir: s.output_dir?.trim() ? s.output_dir.trim() : null,
    repair: s.repair_enabled ? s.repair_strength : 0,
    faces: facesAvailable && s.faces,
  };
  if (options.faces && s.face_model) options.face_model = s.face_model;
  if (formatHasQuality(s.format)) options.quality = s.quality;
  return options;
}
