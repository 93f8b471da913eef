// Find a person by email; see their wallet and recent transfers; end their sessions.
import { useSignal } from '@preact/signals';
import { History } from './History.jsx';
import { adminRequest } from './session.js';
import { gql } from '../store/lib/gql.js';
import { dateTime, errorWords, money } from '../store/lib/i18n.js';
import { t } from './strings.js';

const FIND = gql`
  query FindUsers($query: String!) {
    findUsers(query: $query, first: 20) { id displayName email createdAt }
  }
`;

const PERSON = gql`
  query Person($query: String!) {
    findUsers(query: $query, first: 1) {
      id displayName email
      wallet {
        balance available
        history(first: 20) {
          nodes { id kind direction amount memo createdAt counterpartyUser { displayName } counterpartyStore { name } }
        }
      }
    }
  }
`;

const END_SESSIONS = gql`
  mutation EndUserSessions($userId: ID!) { endUserSessions(userId: $userId) }
`;

export function People() {
  const results = useSignal(null);
  const person = useSignal(null);
  const error = useSignal(null);
  const notice = useSignal('');
  const find = async (event) => {
    event.preventDefault();
    const query = String(new FormData(event.currentTarget).get('query')).trim();
    error.value = null;
    person.value = null;
    try {
      results.value = (await adminRequest(FIND, { query })).findUsers;
    } catch (failure) {
      error.value = failure;
    }
  };
  const open = async (user) => {
    error.value = null;
    notice.value = '';
    try {
      const found = (await adminRequest(PERSON, { query: user.email })).findUsers.find((candidate) => candidate.id === user.id);
      person.value = found ?? null;
    } catch (failure) {
      error.value = failure;
    }
  };
  const endSessions = async () => {
    error.value = null;
    try {
      const ended = (await adminRequest(END_SESSIONS, { userId: person.value.id })).endUserSessions;
      notice.value = t('people.ended', { n: ended, name: person.value.displayName });
    } catch (failure) {
      error.value = failure;
    }
  };
  return (
    <>
      <h1>{t('people.title')}</h1>
      <form onSubmit={find} class="search panel">
        <label>
          {t('people.search')}
          <input name="query" type="search" required placeholder="ada@" />
        </label>
        <button type="submit" class="primary">{t('common.find')}</button>
      </form>
      {error.value && <p role="alert" class="notice error">{errorWords(t, error.value)}</p>}
      <p role="status" class="muted">{results.value && !person.value ? t('common.found', { n: results.value.length }) : notice.value}</p>
      <div class="columns">
        {results.value?.length > 0 && (
          <section class="panel flush" aria-labelledby="people-results">
            <h2 id="people-results" class="visually-hidden">{t('common.results')}</h2>
            <table class="table">
              <thead>
                <tr>
                  <th scope="col">{t('people.name')}</th>
                  <th scope="col">{t('people.email')}</th>
                  <th scope="col">{t('people.since')}</th>
                </tr>
              </thead>
              <tbody>
                {results.value.map((user) => (
                  <tr key={user.id} class={person.value?.id === user.id ? 'selected' : undefined}>
                    <td>
                      <button type="button" class="link-button" onClick={() => open(user)}>{user.displayName}</button>
                    </td>
                    <td>{user.email}</td>
                    <td>{dateTime(user.createdAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        )}
        {person.value && (
          <section class="panel grow" aria-labelledby="person-title">
            <h2 id="person-title">{person.value.displayName}</h2>
            <dl class="definition">
              <dt>{t('people.email')}</dt>
              <dd>{person.value.email}</dd>
              <dt>{t('people.id')}</dt>
              <dd class="mono">{person.value.id}</dd>
              <dt>{t('people.balance')}</dt>
              <dd>{money(person.value.wallet.balance)}</dd>
              <dt>{t('people.available')}</dt>
              <dd>{money(person.value.wallet.available)}</dd>
            </dl>
            <div>
              <button type="button" class="danger small" onClick={endSessions}>{t('people.endSessions')}</button>
            </div>
            <h3>{t('people.history')}</h3>
            <History entries={person.value.wallet.history.nodes} caption={t('people.history')} />
          </section>
        )}
      </div>
    </>
  );
}
