/**
 * The theme is a setting Python keeps, but settings arrive after the first paint: the last one is
 * also kept in localStorage so the page starts in it (no light flash in a dark window).
 */
export type Theme = 'system' | 'dark' | 'light';

const KEY = 'pixup-theme';

export function rememberTheme(theme: Theme): void {
  try {
    localStorage.setItem(KEY, theme);
  } catch {
    // storage disabled: the setting still comes from Python
  }
}

export function rememberedTheme(): Theme {
  try {
    const value = localStorage.getItem(KEY);
    if (value === 'dark' || value === 'light' || value === 'system') return value;
  } catch {
    // storage disabled
  }
  return 'system';
}

/** Put the remembered theme on <html> now (before the app mounts). */
export function applyRememberedTheme(root: HTMLElement = document.documentElement): void {
  const theme = rememberedTheme();
  const systemDark = globalThis.matchMedia?.('(prefers-color-scheme: dark)').matches ?? false;
  root.classList.toggle('dark', theme === 'dark' || (theme === 'system' && systemDark));
}
