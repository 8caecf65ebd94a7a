export { Store, storeDatabase, type StoreOptions, type Query } from './store.js';
export { migrations, type Migration } from './migrations.js';
export { putSetting } from './settings-row.js';
export { Journal, type JournalEntry } from './journal.js';
