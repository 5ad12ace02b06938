import { lookup } from 'node:dns';
import { Agent } from 'node:https';
import { BlockList, isIP } from 'node:net';

/**
 * Outbound requests to URLs that users supply (Web Push endpoints) must not reach the operator's own
 * network. An address is public unless it is in one of these ranges (RFC 6890 special-purpose,
 * private, loopback, link-local, unique-local, multicast, documentation, CGNAT, IPv4-mapped forms).
 */
const blocked = new BlockList();
const blocked6 = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.0.0.0', 24],
  ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 3],
] as const) blocked.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 128], ['::1', 128], ['64:ff9b::', 96], ['100::', 64], ['2001::', 23], ['2001:db8::', 32], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8],
] as const) blocked6.addSubnet(network, prefix, 'ipv6');
// (A BlockList also matches IPv4 addresses against IPv6 rules in their ::ffff: form, so the two are kept apart.)

export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return !blocked.check(address, 'ipv4');
  // IPv4-mapped and -compatible forms are judged as not public: a push service is never reached that way.
  if (family === 0 || /^::(ffff:)?(0:)?[0-9.]+$|^::ffff:/i.test(address)) return false;
  return !blocked6.check(address, 'ipv6');
}

/**
 * An https Agent whose DNS lookups only ever answer public addresses (checked at connect time, so a
 * name that resolves elsewhere later, DNS rebinding, is refused too). `allowPrivate` lifts the check
 * (tests on loopback).
 */
export function publicOnlyAgent(allowPrivate: boolean): Agent {
  if (allowPrivate) return new Agent({ keepAlive: true });
  return new Agent({
    keepAlive: true,
    lookup: (hostname, options, callback) => {
      lookup(hostname, { ...options, all: true }, (error, addresses) => {
        if (error) return callback(error, '', 0);
        const allowed = addresses.filter((a) => isPublicAddress(a.address));
        if (allowed.length === 0) return callback(Object.assign(new Error(`${hostname} resolves to no public address`), { code: 'EADDRNOTPUBLIC' }), '', 0);
        if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: typeof allowed) => void)(null, allowed);
        callback(null, allowed[0]!.address, allowed[0]!.family);
      });
    },
  });
}
