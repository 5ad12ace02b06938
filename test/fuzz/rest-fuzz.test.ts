import t from 'tap';
import { png } from '../support/media.js';
import { type Schema, type SchemaContext } from './schema-arbitrary.js';
import { operationsOf, restViolations, schemaChecker } from './contract.js';
import { prepareRequest, restInputs } from './rest-inputs.js';
import { fuzzSettings, reproduceHint, runProperty } from './settings.js';
import { buildWorld } from './world.js';

/*
 * Spec-driven fuzz of every REST operation: inputs come from the OpenAPI document the app serves at
 * /docs/json (the one clients read; test/plugins/swagger.test.ts keeps openapi/openapi.json equal to
 * it, so the committed file is what is fuzzed, never a stale copy of it). Every answer must be a
 * declared status with a body of the declared type and schema, never a 5xx; afterwards the server is
 * still ready. FUZZ_RUNS, FUZZ_SEED, FUZZ_ONLY: see settings.ts and the README.
 */

const FILE = 'test/fuzz/rest-fuzz.test.ts';
const settings = fuzzSettings(12);

// A soak (FUZZ_RUNS) runs longer than the suite's per-file timeout; the default stays near a minute.
t.setTimeout(Math.max(300_000, settings.runs * 15_000));

t.test('every REST operation keeps its contract under fuzzed input', async (t) => {
  const world = await buildWorld(t);
  const { app } = world;
  const served = await app.inject({ method: 'GET', url: '/docs/json' });
  t.equal(served.statusCode, 200, 'the OpenAPI document is served');
  const document = served.json() as Schema;
  const checker = schemaChecker(document, 'openapi');
  const ctx: SchemaContext = { resolve: (ref) => checker.resolve(ref), hints: (name) => world.hints(name) };
  const image = await png(16, 16);
  const operations = operationsOf(document).filter((operation) => !settings.only || settings.only.test(`${operation.method} ${operation.path}`));
  t.ok(operations.length > 0, `${operations.length} operations to fuzz, ${settings.runs} inputs each, seed ${settings.seed}`);

  for (const operation of operations) {
    const name = `${operation.method} ${operation.path}`;
    const started = Date.now();
    await world.heal();
    const failures = await runProperty(settings, name, restInputs(operation, ctx, image), async (input) => {
      const { request, summary } = prepareRequest(world, operation, input);
      const response = await app.inject(request);
      const problems = restViolations(checker, operation, { status: response.statusCode, headers: response.headers, body: response.body });
      if (problems.length === 0) return undefined;
      // A server error from a forged token is one bug, whatever else the request carried.
      const cause = response.statusCode >= 500 && input.credentials === 'forged' ? ' (forged token)' : '';
      return {
        signature: `answered ${response.statusCode}${cause}: ${problems.join('; ')}`,
        details: `${summary}\n  answered ${response.statusCode} ${String(response.headers['content-type'] ?? '')} ${response.body.slice(0, 400)}\n  - ${problems.join('\n  - ')}`,
      };
    });
    for (const failure of failures) {
      t.fail(`${name}: ${failure.signature}`, { diagnostic: true, inputs: `${failure.count} of ${settings.runs}`, seed: failure.seed, example: failure.details, reproduce: reproduceHint(settings, FILE, name) });
    }
    if (failures.length === 0) t.pass(`${name}: ${settings.runs} inputs within the contract (${Date.now() - started} ms)`);
    const ready = await app.inject({ method: 'GET', url: '/health/ready' });
    if (ready.statusCode !== 200) t.fail(`after ${name}: GET /health/ready answered ${ready.statusCode} ${ready.body}`);
  }

  const ready = await app.inject({ method: 'GET', url: '/health/ready' });
  t.equal(ready.statusCode, 200, 'the server is still ready after the fuzz');
});
