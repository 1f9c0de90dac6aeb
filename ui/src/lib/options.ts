import type { Capabilities, Settings, UpscaleOptions } from './types';

export type Scenario = NonNullable<Settings['scenario']>;
export type OutputFormat = NonNullable<Settings['format']>;

export const SCENARIOS: readonly Scenario[] = [
  'Universal Fast',
  'Universal Balanced',
  'Universal Quality',
  'Digital Art',
];

export const SCALES: readonly number[] = [1, 2, 3, 4, 6, 8];

export const FORMATS: readonly { value: OutputFormat | null; label: string }[] = [
  { value: null, label: 'Keep input format' },
  { value: 'png', label: 'PNG' },
  { value: 'webp', label: 'WebP' },
  { value: 'jpg', label: 'JPEG' },
  { value: 'tiff', label: 'TIFF' },
];

/** Settings.* defaults as Python has them (pixup.api.schema.Settings). */
export const DEFAULT_SETTINGS: Required<Settings> = {
  scenario: 'Universal Fast',
  model: '',
  scale: 4,
  format: null,
  quality: 92,
  output_dir: null,
  repair_enabled: false,
  repair_strength: 50,
  faces: false,
  face_model: '',
  precision: 'fast',
  theme: 'system',
};

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
