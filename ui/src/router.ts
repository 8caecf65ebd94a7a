/**
 * A small router over the History API. The UI lives under /manager; a route is the path below
 * it (`/apps/echo`). The manager answers index.html for every such path, so reloads work.
 */
import { useEffect, useState } from 'preact/hooks';

export const basePath = '/manager';

/** The current route: the path below /manager, always starting with `/`. */
export function currentRoute(): string {
  const path = window.location.pathname;
  const rest = path.startsWith(basePath) ? path.slice(basePath.length) : path;
  return rest === '' ? '/' : rest;
}

const listeners = new Set<() => void>();

/** Goes to a route, adding a history entry (or replacing the current one). */
export function navigate(route: string, options: { replace?: boolean } = {}): void {
  const url = `${basePath}${route}`;
  if (options.replace) window.history.replaceState(null, '', url);
  else window.history.pushState(null, '', url);
  for (const listener of listeners) listener();
  window.scrollTo(0, 0);
}

/** The current route, re-rendering on navigation and on the browser's back and forward. */
export function useRoute(): string {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const update = () => {
      setRoute(currentRoute());
    };
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return route;
}

/** The href of a route, for links. */
export const href = (route: string): string => `${basePath}${route}`;

/** Follows a link inside the UI without reloading; new-tab clicks keep the browser's way. */
export function onLinkClick(event: MouseEvent, route: string): void {
  if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey)
    return;
  event.preventDefault();
  navigate(route);
}
