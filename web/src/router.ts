/**
 * A router of a few lines (the app has six pages; vue-router would be most of the first page's
 * JavaScript budget): the current URL as reactive state, pushState to move, popstate to go back.
 */
import { shallowRef } from 'vue';

export const currentUrl = shallowRef(new URL(location.href));

export function navigate(to: string, replace = false): void {
  history[replace ? 'replaceState' : 'pushState'](null, '', to);
  currentUrl.value = new URL(location.href);
  if (!replace) window.scrollTo(0, 0);
}

window.addEventListener('popstate', () => {
  currentUrl.value = new URL(location.href);
});

export type Page = 'home' | 'institutions' | 'institution' | 'appointment' | 'ops' | 'not-found';

export interface Match {
  page: Page;
  id?: string;
}

export function match(path: string): Match {
  if (path === '/') return { page: 'home' };
  if (path === '/institutions') return { page: 'institutions' };
  if (path === '/ops') return { page: 'ops' };
  const institution = /^\/institutions\/(\d+)$/.exec(path);
  if (institution) return { page: 'institution', id: institution[1] ?? '' };
  const appointment = /^\/appointments\/([0-9a-f-]{36})$/.exec(path);
  if (appointment) return { page: 'appointment', id: appointment[1] ?? '' };
  return { page: 'not-found' };
}
