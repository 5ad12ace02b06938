import pg from 'pg';
import t from 'tap';
import { AppError } from '../../../src/errors.js';
import { errorFrameData } from '../../../src/realtime/frame-dispatcher.js';

/*
 * What a socket command's failure looks like on the wire. A database that cannot be reached (here a
 * real connection refused by a closed port) is a retryable SERVICE_UNAVAILABLE, not INTERNAL_ERROR:
 * the client retries the frame (a send with the same clientId, which is safe).
 */

t.test('a database outage answers a retryable SERVICE_UNAVAILABLE error frame', async (t) => {
  const client = new pg.Client({ host: '127.0.0.1', port: 1, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 2000 });
  const refused = await client.connect().then(
    () => null,
    (error: unknown) => error,
  );
  t.ok(refused, 'the connection was refused');
  t.match(errorFrameData(refused), { code: 'SERVICE_UNAVAILABLE', retryable: true });
});

t.test('a domain error keeps its code and fields; a bug is INTERNAL_ERROR without details', async (t) => {
  t.strictSame(errorFrameData(new AppError('CONVERSATION_NOT_FOUND')), { code: 'CONVERSATION_NOT_FOUND', message: 'No such conversation' });
  const internal = errorFrameData(new TypeError('validator.Check is not a function'));
  t.equal(internal.code, 'INTERNAL_ERROR');
  t.notMatch(String(internal.message), /validator/, 'no internals leak');
  t.notOk('retryable' in internal);
});
