// The store client's translator over its two strings files.
import { translator } from './lib/i18n.js';
import en from './en.js';
import ko from './ko.js';

export const t = translator({ en, ko });
