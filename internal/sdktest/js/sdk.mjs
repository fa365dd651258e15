// Drives a pbkeys server with the official PocketBase JS SDK, as a user
// would: sign in, create a key, use it with authStore.save(key), check what
// a key may not do, revoke it. Prints one JSON object with what it saw.
import PocketBase from 'pocketbase';

const { PBKEYS_URL: url, PBKEYS_EMAIL: email, PBKEYS_PASSWORD: password } = process.env;
const seen = {};

async function status(promise) {
  try {
    await promise;
    return 200;
  } catch (e) {
    return e.status;
  }
}

const owner = new PocketBase(url);
await owner.collection('users').authWithPassword(email, password);
const created = await owner.collection('api_keys').create({ label: 'SDK key' });
seen.createdKeyId = created.id;
seen.key = created.key;
seen.createdHasHash = 'key_hash' in created;

const client = new PocketBase(url);
client.authStore.save(created.key);
const me = await client.collection('users').getOne(owner.authStore.record.id);
seen.emailViaKey = me.email;
const notes = await client.collection('notes').getList();
seen.notesViaKey = notes.items.map((n) => n.title);
seen.listKeysViaKey = await status(client.collection('api_keys').getList());
seen.authRefreshViaKey = await status(client.collection('users').authRefresh());

const listed = await owner.collection('api_keys').getFullList();
seen.listedHasSecret = JSON.stringify(listed).includes(created.key.split('.')[1]);

await owner.collection('api_keys').delete(created.id);
seen.afterRevoke = await status(client.collection('users').getOne(owner.authStore.record.id));

console.log(JSON.stringify(seen));
