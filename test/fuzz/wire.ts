/*
 * How fuzz values reach the wire. Generated objects have no prototype, so `__proto__` is an own key
 * like any other; numbers JSON cannot spell (1e999 parses as Infinity, 99999999999999999999 loses
 * precision) travel as RawNumber and are written verbatim; a lone surrogate in a URL is sent as the
 * bytes a careless client would send (its WTF-8 encoding), not refused by encodeURIComponent.
 */

/** A number literal written into JSON (or a query string) exactly as given. */
export class RawNumber {
  readonly text: string;

  constructor(text: string) {
    this.text = text;
  }
  toString(): string {
    return this.text;
  }
}

/** A plain object without a prototype: every key, `__proto__` included, is an own property. */
export function bareObject(entries: Iterable<readonly [string, unknown]> = []): Record<string, unknown> {
  const object = Object.create(null) as Record<string, unknown>;
  for (const [key, value] of entries) object[key] = value;
  return object;
}

/** JSON text of a fuzz value (RawNumber verbatim; lone surrogates as JSON escapes, as JSON.stringify does). */
export function toJsonText(value: unknown): string {
  if (value instanceof RawNumber) return value.text;
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : toJsonText(item))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const members = Object.keys(value)
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${toJsonText((value as Record<string, unknown>)[key])}`);
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Percent-encodes one URL component; a lone surrogate becomes its three WTF-8 bytes. */
export function encodeComponent(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    const isHigh = unit >= 0xd800 && unit <= 0xdbff;
    const next = text.charCodeAt(i + 1);
    if (isHigh && next >= 0xdc00 && next <= 0xdfff) {
      out += encodeURIComponent(text.slice(i, i + 2));
      i += 1;
    } else if (unit >= 0xd800 && unit <= 0xdfff) {
      out += [0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    } else {
      out += encodeURIComponent(text[i]!);
    }
  }
  return out;
}

/** A query or path value as text: strings as they are, everything else as its JSON. */
export function componentText(value: unknown): string {
  return typeof value === 'string' ? value : value instanceof RawNumber ? value.text : toJsonText(value);
}

/** A query string from fuzz values: arrays repeat the key, undefined leaves it out. `raw` keys are sent unencoded. */
export function queryString(query: Record<string, unknown>, raw: ReadonlySet<string> = new Set()): string {
  const parts: string[] = [];
  for (const key of Object.keys(query)) {
    const value = query[key];
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) {
      const text = componentText(item);
      parts.push(`${encodeComponent(key)}=${raw.has(key) ? text : encodeComponent(text)}`);
    }
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/** Short, printable description of a value for failure reports (long strings are summarized). */
export function describe(value: unknown, limit = 600): string {
  const text = toJsonText(
    JSON.parse(
      JSON.stringify(value, (_key, inner: unknown) => {
        if (inner instanceof RawNumber) return `<number ${inner.text}>`;
        if (typeof inner === 'string' && inner.length > 80) return `${inner.slice(0, 40)}…<${inner.length} chars>`;
        return inner;
      }) ?? 'null',
    ),
  );
  return text.length > limit ? `${text.slice(0, limit)}…` : text;
}
