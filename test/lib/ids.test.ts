import t from 'tap';
import { isId, newId } from '../../src/lib/ids.js';

t.test('newId: UUIDv7 with the given time, unique across refills of the random pool', async (t) => {
  const at = Date.UTC(2026, 10, 23, 12, 0, 0);
  const ids = Array.from({ length: 5000 }, () => newId(at));
  t.equal(new Set(ids).size, ids.length, 'no two ids alike (the pool of random bytes refills every 256)');
  for (const id of [ids[0]!, ids[255]!, ids[256]!, ids[4999]!]) {
    t.ok(isId(id), `${id} is a uuid`);
    t.equal(id[14], '7', 'version 7');
    t.ok('89ab'.includes(id[19]!), 'RFC 9562 variant');
    t.equal(Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16), at, 'the first 48 bits are the millisecond time');
  }
  t.ok(newId(at + 1) > newId(at), 'later ids sort after earlier ones');
});
