// /admin: the admin console.
import { render } from 'preact';
import { effect } from '@preact/signals';
import { Console } from './Console.jsx';
import { language } from '../store/lib/i18n.js';
import { activity } from './session.js';
import './admin.css';

effect(() => {
  document.documentElement.lang = language.value;
});
for (const type of ['pointerdown', 'keydown']) addEventListener(type, activity, { passive: true });
addEventListener('message', (event) => {
  if (event.origin === location.origin && event.data?.type === 'c9pay-graphiql-activity') activity();
});
render(<Console />, document.getElementById('root'));
