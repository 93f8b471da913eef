// GraphiQL (the router's /graphql page) inside the console, with the admin token
// applied: the page asks its same-origin parent for the token by postMessage and sends
// it as `Authorization: Bearer`; renewals are passed on as they happen.
import { useEffect, useRef } from 'preact/hooks';
import { admin, onToken } from './session.js';
import { t } from './strings.js';

export function GraphiQL() {
  const frame = useRef(null);
  useEffect(() => {
    const send = (token) => frame.current?.contentWindow?.postMessage({ type: 'c9pay-admin-token', token }, location.origin);
    const asked = (event) => {
      if (event.origin === location.origin && event.source === frame.current?.contentWindow && event.data?.type === 'c9pay-graphiql-ready') {
        send(admin.value?.token ?? null);
      }
    };
    addEventListener('message', asked);
    const stop = onToken(send);
    return () => {
      removeEventListener('message', asked);
      stop();
    };
  }, []);
  return (
    <>
      <h1>{t('graphiql.title')}</h1>
      <p class="muted small">{t('graphiql.lead')}</p>
      <iframe ref={frame} class="graphiql-frame" src="/graphql" title={t('graphiql.frame')} />
    </>
  );
}
