import { getContext, setContext } from 'svelte';
import { getDefaultApi, type Api } from './api';

const KEY = Symbol('pixup-api');

/** Give every component below this one the same API (App does; tests pass `api` props instead). */
export function provideApi(api: Api): void {
  setContext(KEY, api);
}

/** The API from context, or the page's own. Call during component initialisation. */
export function useApi(): Api {
  return getContext<Api | undefined>(KEY) ?? getDefaultApi();
}
