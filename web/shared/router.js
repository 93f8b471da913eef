// A small path router for a client served under /<client>/ (the router answers every
// /<client>/<path> with index.html). The current path is a signal; links and buttons
// call navigate().
import { signal } from '@preact/signals';

export function createRouter(base) {
  const strip = (pathname) => pathname.replace(new RegExp(`^/${base}/?`), '').replace(/\/$/, '');
  const path = signal(strip(location.pathname));

  window.addEventListener('popstate', () => {
    path.value = strip(location.pathname);
  });

  /** Goes to `to` ('' is the client's home); `replace` keeps it out of the back history. */
  function navigate(to, { replace = false } = {}) {
    const url = `/${base}${to ? '/' + to : ''}`;
    if (replace) history.replaceState(null, '', url);
    else history.pushState(null, '', url);
    path.value = to;
    // A new screen starts at its top, and focus moves to its heading (see Screen).
    window.scrollTo(0, 0);
  }

  return { path, navigate, href: (to) => `/${base}${to ? '/' + to : ''}` };
}
