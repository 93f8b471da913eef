// Today at a glance: takings and number of sales (Store.takings), takings by hour
// (SVG bars), and payments as they arrive (live, each once).
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { changes, feed, store } from './state.js';
import { errorWords } from '../../shared/errors.js';
import { gql } from '../../shared/gql.js';
import { graphql } from '../../shared/graphql.js';
import { money } from '../../shared/money.js';
import { clock, hour } from '../../shared/time.js';
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
        graphql(TAKINGS, { id: store.value.id, since: startOfToday() })
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
      {error.value && <p role="alert" class="notice error">{errorWords(error.value)}</p>}
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
            <time dateTime={event.occurredAt}>{clock(event.occurredAt)}</time>
          </li>
        ))}
      </ol>
    </>
  );
}

// Today's takings per hour as SVG bars: 24 hours is too little data to need a charting
// library (uPlot alone was a quarter of this client's JavaScript budget). The SVG scales
// with its box; each bar names its hour and amount for pointers, and the figure as a whole
// is described in words for screen readers.
const CHART = { width: 720, height: 260, left: 84, right: 8, top: 12, bottom: 28 };

function Chart({ buckets }) {
  const byHour = new Map(buckets.map((bucket) => [new Date(bucket.start).getHours(), Number(bucket.total)]));
  const hours = Array.from({ length: 24 }, (_, index) => {
    const start = new Date();
    start.setHours(index, 0, 0, 0);
    return { index, start: start.getTime(), total: byHour.get(index) ?? 0 };
  });
  const top = niceCeiling(Math.max(10000, ...hours.map((entry) => entry.total)) * 1.1);
  const plotWidth = CHART.width - CHART.left - CHART.right;
  const plotHeight = CHART.height - CHART.top - CHART.bottom;
  const slot = plotWidth / 24;
  const y = (value) => CHART.top + plotHeight - (value / top) * plotHeight;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((share) => Math.round(top * share));
  const best = buckets.reduce((most, bucket) => (Number(bucket.total) > Number(most?.total ?? 0) ? bucket : most), null);
  return (
    <figure class="chart">
      <svg class="chart-svg" viewBox={`0 0 ${CHART.width} ${CHART.height}`} role="img" aria-label={t('overview.chartLabel')}>
        {ticks.map((tick) => (
          <g key={tick}>
            <line class="chart-grid" x1={CHART.left} x2={CHART.width - CHART.right} y1={y(tick)} y2={y(tick)} />
            <text class="chart-label" x={CHART.left - 8} y={y(tick) + 4} text-anchor="end">{money(tick)}</text>
          </g>
        ))}
        {hours.map((entry) => {
          const height = (entry.total / top) * plotHeight;
          return (
            <g key={entry.index}>
              {entry.total > 0 && (
                <rect class="chart-bar" x={CHART.left + entry.index * slot + slot * 0.15} y={y(entry.total)} width={slot * 0.7} height={height} rx="2">
                  <title>{`${hour(entry.start)}: ${money(entry.total)}`}</title>
                </rect>
              )}
              {entry.index % 3 === 0 && (
                <text class="chart-label" x={CHART.left + entry.index * slot + slot / 2} y={CHART.height - 8} text-anchor="middle">{hour(entry.start)}</text>
              )}
            </g>
          );
        })}
      </svg>
      <figcaption class="muted small">
        {best ? t('overview.busiest', { hour: hour(best.start), amount: money(best.total) }) : t('overview.noSales')}
      </figcaption>
    </figure>
  );
}

/** A round number at or above `value` for the chart's top: 1, 2 or 5 times a power of ten. */
function niceCeiling(value) {
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * power).find((candidate) => candidate >= value);
}
