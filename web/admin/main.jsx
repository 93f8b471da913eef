// /admin: the admin console. Its requests carry the admin token (admin/session.js);
// activity here or in the embedded GraphiQL keeps the session from idling out.
import { render } from 'preact';
import { Console } from './Console.jsx';
import { activity } from './session.js';
import './strings.js';
import './admin.css';

for (const type of ['pointerdown', 'keydown']) addEventListener(type, activity, { passive: true });
addEventListener('message', (event) => {
  if (event.origin === location.origin && event.data?.type === 'c9pay-graphiql-activity') activity();
});
render(<Console />, document.getElementById('root'));
