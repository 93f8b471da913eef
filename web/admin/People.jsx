// Find a person by email; see their wallet and recent transfers; end their sessions.
import { History } from './History.jsx';
import { LookupResults, LookupSearch, useLookup } from './Lookup.jsx';
import { adminRequest } from './session.js';
import { gql } from '../shared/gql.js';
import { money } from '../shared/money.js';
import { date } from '../shared/time.js';
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
  const lookup = useLookup(
    async (query) => (await adminRequest(FIND, { query })).findUsers,
    async (user) => (await adminRequest(PERSON, { query: user.email })).findUsers.find((candidate) => candidate.id === user.id),
  );
  const person = lookup.selected;
  const endSessions = () =>
    lookup.attempt(async () => {
      const ended = (await adminRequest(END_SESSIONS, { userId: person.value.id })).endUserSessions;
      lookup.notice.value = t('people.ended', { n: ended, name: person.value.displayName });
    });
  const columns = [
    { header: t('people.name'), cell: (user) => user.displayName },
    { header: t('people.email'), cell: (user) => user.email },
    { header: t('people.since'), cell: (user) => date(user.createdAt), class: 'end' },
  ];
  return (
    <>
      <h1>{t('people.title')}</h1>
      <LookupSearch lookup={lookup} label={t('people.search')} placeholder="ada@" />
      <div class="columns">
        <LookupResults lookup={lookup} id="people-results" columns={columns} />
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
