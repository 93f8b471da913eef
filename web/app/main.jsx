// The user app's entry: styles, strings, the GraphQL client's credentials, the session
// (restored from its cookie on every load), then the app itself.
import '../shared/base.css';
import './app.css';
import { render } from 'preact';
import { configureGraphQL } from '../shared/graphql.js';
import { addStrings } from '../shared/i18n.js';
import { bearerAuth, startSession } from '../shared/session.js';
import { App } from './app.jsx';
import en from './en.js';
import ko from './ko.js';

addStrings({ en, ko });
configureGraphQL(bearerAuth);
startSession();
render(<App />, document.getElementById('root'));
