// /store: the merchant dashboard; /store/kiosk: the kiosk (a tablet at the counter).
import { render } from 'preact';
import { effect } from '@preact/signals';
import { Dashboard } from './dashboard/Dashboard.jsx';
import { Kiosk } from './kiosk/Kiosk.jsx';
import { language } from './lib/i18n.js';
import './store.css';

effect(() => {
  document.documentElement.lang = language.value;
});

const kiosk = location.pathname.replace(/\/+$/, '').startsWith('/store/kiosk');
document.body.classList.add(kiosk ? 'is-kiosk' : 'is-dashboard');
render(kiosk ? <Kiosk /> : <Dashboard />, document.getElementById('root') ?? document.body);
