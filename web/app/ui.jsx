// Building blocks every screen of the app uses.
import { useEffect, useId, useRef } from 'preact/hooks';
import { describeError } from '../shared/errors.js';
import { t } from '../shared/i18n.js';
import { liveState, online, router } from './state.js';

/**
 * A screen: its heading gets focus when it opens, so a screen reader announces where the
 * person is, as a page load would. `back` adds a back button (to the previous screen).
 */
export function Screen({ title, back, children, class: className = '', hideTitle = false }) {
  const heading = useRef(null);
  useEffect(() => {
    heading.current?.focus({ preventScroll: true });
  }, [title]);
  return (
    <main class={`screen ${className}`}>
      <div class="screen-head">
        {back && (
          <button type="button" class="icon-btn" onClick={() => (history.length > 1 ? history.back() : router.navigate(''))}>
            <svg viewBox="0 0 24 24" width="24" height="24" aria-hidden="true">
              <path d="M15 5l-7 7 7 7" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" stroke-linejoin="round" />
            </svg>
            <span class="sr-only">{t('common.back')}</span>
          </button>
        )}
        <h1 ref={heading} tabIndex={-1} class={hideTitle ? 'sr-only' : ''}>
          {title}
        </h1>
      </div>
      {children}
    </main>
  );
}

/** A labelled input with its hint and error tied to it for screen readers. */
export function Field({ label, hint, error, inputRef, ...input }) {
  const id = useId();
  const described = [hint && `${id}-hint`, error && `${id}-error`].filter(Boolean).join(' ') || undefined;
  const Tag = input.multiline ? 'textarea' : 'input';
  delete input.multiline;
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <Tag id={id} ref={inputRef} aria-describedby={described} aria-invalid={error ? 'true' : undefined} {...input} />
      {hint && (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {error && (
        <p class="field-error" id={`${id}-error`}>
          {error}
        </p>
      )}
    </div>
  );
}

/** A failure, in words; announced as it appears. */
export function ErrorMessage({ error }) {
  return (
    <div role="alert" class={error ? 'alert' : 'alert-empty'}>
      {error ? (typeof error === 'string' ? error : describeError(error)) : null}
    </div>
  );
}

/**
 * A button that moves money: disabled while offline (never queued blind) or busy, with
 * the reason shown next to it.
 */
export function MoneyButton({ busy, busyLabel, children, disabled, ...props }) {
  const offline = !online.value;
  return (
    <div class="money-action">
      {offline && <p class="notice">{t('offline.moneyDisabled')}</p>}
      <button type="submit" class="btn btn-primary btn-block" disabled={disabled || busy || offline} aria-busy={busy ? 'true' : undefined} {...props}>
        {busy ? busyLabel : children}
      </button>
    </div>
  );
}

/** live / reconnecting / offline, in words and colour. */
export function LiveBadge() {
  const state = liveState.value;
  return (
    <span class="live" data-state={state} role="status" aria-label={t('live.label', { state: t(`live.${state}`) })}>
      {t(`live.${state}`)}
    </span>
  );
}

/** A link styled as anything, navigating within the app without a page load. */
export function Link({ to, children, ...props }) {
  return (
    <a
      href={router.href(to)}
      onClick={(e) => {
        if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        router.navigate(to);
      }}
      {...props}
    >
      {children}
    </a>
  );
}
