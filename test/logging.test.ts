import t from 'tap';
import { redactUrl } from '../src/logging.js';
import { build, captureLogs } from './helper.js';

t.test('redactUrl', async (t) => {
  t.equal(redactUrl('/ws?token=abc.def'), '/ws?[REDACTED]', 'socket URLs lose the whole query');
  t.equal(redactUrl('/ws/chat/room-1/?Authorization=jwt'), '/ws/chat/room-1/?[REDACTED]');
  t.equal(redactUrl('/api/v1/users?q=bob&token=s3cret&limit=5'), '/api/v1/users?q=bob&token=[REDACTED]&limit=5');
  t.equal(redactUrl('/api/v1/x?Code=123456'), '/api/v1/x?Code=[REDACTED]', 'parameter names match case-insensitively');
  t.equal(redactUrl('/health/live'), '/health/live');
});

t.test('secrets in headers, query strings and bodies never reach the log', async (t) => {
  const logs = captureLogs();
  const logStream = logs.stream;
  const app = await build(t, { env: { LOG_LEVEL: 'trace' }, overrides: { logStream } });
  app.post('/api/v1/test/log-body', async (request) => {
    request.log.info({ body: request.body }, 'got body');
    return {};
  });

  await app.inject({ method: 'GET', url: '/ws?token=tok-AAA', headers: { authorization: 'Bearer hdr-BBB' } });
  await app.inject({ method: 'GET', url: '/api/v1/anything?ticket=tkt-CCC&q=visible-q' });
  await app.inject({
    method: 'POST',
    url: '/api/v1/test/log-body',
    headers: { 'sec-websocket-protocol': 'bearer, proto-DDD' },
    payload: { password: 'pw-EEE', refreshToken: 'rt-FFF', code: '123987', nested: { accessToken: 'at-GGG' }, username: 'visible-user' },
  });

  const log = logs.text();
  t.match(log, /visible-q/, 'ordinary query values are logged');
  t.match(log, /visible-user/, 'ordinary body fields are logged');
  for (const secret of ['tok-AAA', 'hdr-BBB', 'tkt-CCC', 'proto-DDD', 'pw-EEE', 'rt-FFF', '123987', 'at-GGG']) {
    t.notOk(log.includes(secret), `${secret} is not logged`);
  }
});
