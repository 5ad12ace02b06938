import { createHash } from 'node:crypto';
import pg from 'pg';

/**
 * Names for repeated statements, so that Postgres parses and plans each once per connection (a named
 * prepared statement) instead of on every call, which is what an unnamed statement costs: a few
 * hundred microseconds of Postgres CPU for a join, more than running it.
 *
 * A text is named from its second sighting, so one-off texts (an IN list of an unusual length)
 * never reach the server as prepared statements. At most `limit` texts are ever named: the rest
 * run unnamed, so a caller generating texts without bound cannot grow each connection's statements
 * without bound. The name is a digest of the text: the same text has the same name on every
 * connection, and two texts cannot share one.
 */
export class StatementNames {
  private readonly names = new Map<string, string>();
  private readonly seen = new Set<string>();

  private readonly limit: number;

  constructor(limit = 1000) {
    this.limit = limit;
  }

  /** The name to run `text` under, or undefined to run it unnamed. */
  nameFor(text: string): string | undefined {
    const known = this.names.get(text);
    if (known !== undefined || this.names.size >= this.limit) return known;
    if (!this.seen.has(text)) {
      // Bounded like the names: at four times the limit, every sighting so far is forgotten.
      if (this.seen.size >= this.limit * 4) this.seen.clear();
      this.seen.add(text);
      return undefined;
    }
    this.seen.delete(text);
    const name = `s_${createHash('sha256').update(text).digest('base64url').slice(0, 32)}`;
    this.names.set(text, name);
    return name;
  }

  get size(): number {
    return this.names.size;
  }
}

type QueryConfig = { text?: unknown; name?: unknown; values?: unknown; submit?: unknown };

/**
 * A pg Client class whose statements with parameters run under the names of `names`. Only those:
 * a statement without parameters may hold several commands (migrations, BEGIN), which the extended
 * protocol that a name needs would refuse. Statements named by the caller keep their name.
 */
export function namingClient(names: StatementNames): typeof pg.Client {
  return class NamingClient extends pg.Client {
    override query(config: unknown, values?: unknown, callback?: unknown): never {
      const named = nameQuery(names, config, values);
      return (super.query as (c: unknown, v?: unknown, cb?: unknown) => never)(named, values, callback);
    }
  };
}

function nameQuery(names: StatementNames, config: unknown, values: unknown): unknown {
  if (typeof config === 'string') {
    if (!hasParameters(values)) return config;
    const name = names.nameFor(config);
    return name ? { text: config, name } : config;
  }
  if (config === null || typeof config !== 'object') return config;
  const query = config as QueryConfig;
  if (typeof query.submit === 'function' || query.name !== undefined || typeof query.text !== 'string') return config;
  if (!hasParameters(values) && !hasParameters(query.values)) return config;
  const name = names.nameFor(query.text);
  // A copy: drizzle reuses its config object for every run of a built query.
  return name ? { ...query, name } : config;
}

const hasParameters = (values: unknown): boolean => Array.isArray(values) && values.length > 0;
