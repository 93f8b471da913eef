// /store: the merchant dashboard; /store/kiosk: the kiosk (a tablet at the counter).
// The dashboard speaks GraphQL as the signed-in owner (the shared browser session); the
// kiosk signs each request itself (kiosk/device.js), so it configures nothing here.
import { render } from 'preact';
import { Dashboard } from './dashboard/Dashboard.jsx';
import { Kiosk } from './kiosk/Kiosk.jsx';
import { configureGraphQL } from '../shared/graphql.js';
import { bearerAuth } from '../shared/session.js';
import './strings.js';
import './store.css';

const kiosk = location.pathname.replace(/\/+$/, '').startsWith('/store/kiosk');
if (!kiosk) configureGraphQL(bearerAuth);
document.body.classList.add(kiosk ? 'is-kiosk' : 'is-dashboard');
render(kiosk ? <Kiosk /> : <Dashboard />, document.getElementById('root') ?? document.body);
