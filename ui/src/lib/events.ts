/** Python (desktop window) dispatches this on window with `{paths: string[]}` when files are dropped. */
export const PATHS_EVENT = 'pixup:paths';

export interface PathsEventDetail {
  paths: string[];
}
