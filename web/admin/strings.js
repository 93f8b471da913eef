// The admin console's strings on top of the shared ones.
import { addStrings, t } from '../shared/i18n.js';
import en from './en.js';
import ko from './ko.js';

addStrings({ en, ko });

export { t };
