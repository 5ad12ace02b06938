import { readFileSync } from 'node:fs';
import * as tls from 'node:tls';

/*
 * The TLS identity of the push services tests run on loopback (Web Push, FCM, APNs): a self-signed
 * certificate for 127.0.0.1 and localhost (test/fixtures/push), trusted by this process once this
 * module is imported (as NODE_EXTRA_CA_CERTS would make a child process trust it).
 */

const fixture = (name: string) => readFileSync(new URL(`../fixtures/push/${name}`, import.meta.url), 'utf8');

/** Key and certificate for https.createServer / http2.createSecureServer. */
export const LOOPBACK_TLS = { key: fixture('loopback.key'), cert: fixture('loopback.crt') };

/** The certificate file, for NODE_EXTRA_CA_CERTS of child processes. */
export const LOOPBACK_CA_FILE = new URL('../fixtures/push/loopback.crt', import.meta.url).pathname;

// Node 22.15+ (the supported versions); @types/node here predates these two functions.
const caStore = tls as unknown as { getCACertificates(kind: 'default'): string[]; setDefaultCACertificates(certs: string[]): void };
if (!caStore.getCACertificates('default').includes(LOOPBACK_TLS.cert)) caStore.setDefaultCACertificates([...caStore.getCACertificates('default'), LOOPBACK_TLS.cert]);
