import t from 'tap';
import { isPublicAddress } from '../../src/lib/public-address.js';

/* Web Push endpoints come from browsers: only public addresses may be reached (no SSRF). */

t.test('private, loopback, link-local, metadata, mapped and special addresses are not public; ordinary ones are', async (t) => {
  const notPublic = [
    '127.0.0.1', '127.255.255.254', '10.0.0.1', '172.16.5.4', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '0.1.2.3',
    '224.0.0.1', '255.255.255.255', '192.0.2.1', '198.18.0.1', '::', '::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '::127.0.0.1',
    'fe80::1', 'fd00::1', 'fc12::1', 'ff02::1', '2001:db8::1', '64:ff9b::a00:1', 'localhost', 'example.com', '', '1.2.3', '999.1.1.1',
  ];
  for (const address of notPublic) t.notOk(isPublicAddress(address), `${JSON.stringify(address)} is not public`);
  for (const address of ['93.184.216.34', '8.8.8.8', '172.32.0.1', '2606:4700::1111', '2a00:1450:4001:81b::200e']) t.ok(isPublicAddress(address), `${address} is public`);
});
