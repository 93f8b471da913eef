// Today at a glance: takings and number of sales (Store.takings), takings by hour
// (uPlot), and payments as they arrive (live, each once).
import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { changes, feed, store } from './state.js';
import { gql } from '../lib/gql.js';
import { errorWords, language, money, time } from '../lib/i18n.js';
import { authed } from '../lib/session.js';
import { t } from '../strings.js';

const TAKINGS = gql`
  query Takings($id: ID!, $since: DateTime!) {
    store(id: $id) {
      id
      takings(since: $since, interval: HOUR) { total count refunded buckets { start total count } }
    }
  }
`;

const startOfToday = () => {
  const now = new Date();
  return new Date(now.getFullYear(), now.getMonth(), now.getDate()).toISOString();
};

export function Overview() {
  const takings = useSignal(null);
  const error = useSignal(null);
  useEffect(() => {
    const timer = setTimeout(
      () =>
        authed(TAKINGS, { id: store.value.id, since: startOfToday() })
          .then((data) => {
            takings.value = data.store.takings;
            error.value = null;
          })
          .catch((failure) => (error.value = failure)),
      changes.value ? 300 : 0,
    );
    return () => clearTimeout(timer);
  }, [changes.value]);
  const today = takings.value;
  return (
    <>
      <h1>{t('overview.title')}</h1>
      {error.value && <p role="alert" class="notice error">{errorWords(t, error.value)}</p>}
      <div class="metrics">
        <section class="metric" aria-labelledby="m-takings">
          <h2 id="m-takings">{t('overview.takings')}</h2>
          <p class="metric-value">{today ? money(Number(today.total) - Number(today.refunded)) : '—'}</p>
          {today && Number(today.refunded) > 0 && <p class="muted small">{t('overview.refunded', { amount: money(today.refunded) })}</p>}
        </section>
        <section class="metric" aria-labelledby="m-count">
          <h2 id="m-count">{t('overview.count')}</h2>
          <p class="metric-value">{today ? today.count : '—'}</p>
        </section>
        <section class="metric" aria-labelledby="m-average">
          <h2 id="m-average">{t('overview.average')}</h2>
          <p class="metric-value">{today && today.count ? money(Math.round(Number(today.total) / today.count)) : '—'}</p>
        </section>
      </div>
      <div class="columns">
        <section class="panel grow" aria-labelledby="chart-title">
          <h2 id="chart-title">{t('overview.chart')}</h2>
          {today && <Chart buckets={today.buckets} />}
        </section>
        <section class="panel feed" aria-labelledby="feed-title">
          <h2 id="feed-title">{t('overview.live')}</h2>
          <LiveFeed />
        </section>
      </div>
    </>
  );
}

export function LiveFeed() {
  return (
    <>
      {feed.value.length === 0 && <p class="muted">{t('overview.liveEmpty')}</p>}
      <ol class="feed-list" aria-live="polite" aria-relevant="additions" aria-label={t('overview.live')}>
        {feed.value.map((event) => (
          <li key={event.id} class={event.kind === 'REFUND' ? 'refund' : 'payment'}>
            <span>{t(event.kind === 'REFUND' ? 'feed.refund' : 'feed.payment', { amount: money(event.amount), name: event.payer?.displayName ?? '' })}</span>
            <time dateTime={event.occurredAt}>{time(event.occurredAt)}</time>
          </li>
        ))}
      </ol>
    </>
  );
}

function Chart({ buckets }) {
  const host = useRef(null);
  useEffect(() => {
    const element = host.current;
    const hours = Array.from({ length: 24 }, (_, hour) => {
      const start = new Date();
      start.setHours(hour, 0, 0, 0);
      return start.getTime() / 1000;
    });
    const byHour = new Map(buckets.map((bucket) => [new Date(bucket.start).getHours(), Number(bucket.total)]));
    const totals = hours.map((_, hour) => byHour.get(hour) ?? 0);
    const plot = new uPlot(
      {
        width: Math.max(320, element.clientWidth),
        height: 260,
        legend: { show: false },
        cursor: { show: true, points: { show: false } },
        scales: { x: { time: true }, y: { range: (_, __, max) => [0, Math.max(10000, max * 1.15)] } },
        axes: [
          { stroke: '#4b5563', grid: { show: false }, values: (_, ticks) => ticks.map((tick) => time(tick * 1000, { hour: 'numeric' })) },
          { stroke: '#4b5563', grid: { stroke: '#e5e7eb' }, size: 80, values: (_, ticks) => ticks.map((tick) => money(tick)) },
        ],
        series: [{}, { label: t('overview.takings'), fill: '#2563eb', stroke: '#1d4ed8', paths: uPlot.paths.bars({ size: [0.7, 40] }), points: { show: false } }],
      },
      [hours, totals],
      element,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(320, element.clientWidth), height: 260 }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [buckets, language.value]);
  const best = buckets.reduce((top, bucket) => (Number(bucket.total) > Number(top?.total ?? 0) ? bucket : top), null);
  return (
    <figure class="chart">
      <div ref={host} class="chart-host" role="img" aria-label={t('overview.chartLabel')} />
      <figcaption class="muted small">
        {best ? t('overview.busiest', { hour: time(best.start, { hour: 'numeric' }), amount: money(best.total) }) : t('overview.noSales')}
      </figcaption>
    </figure>
  );
}
