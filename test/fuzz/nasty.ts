import fc from 'fast-check';
import { RawNumber, bareObject } from './wire.js';

/*
 * The inputs that broke this service before, and their relatives: values a schema-driven generator
 * would rarely reach by chance. Any of them may stand in for any field, parameter or frame member.
 */

export const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype', '__defineGetter__', 'isPrototypeOf'] as const;

/** A string as long as a careless or hostile client might send (well under the 1 MiB body limit once quoted). */
export const HUGE_STRING = 'x'.repeat(70_000);

export const nastyStrings: readonly string[] = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\u0001\u001f\u007f',
  '\ud800',
  'x\udfffy',
  '\udc00\ud800',
  '\u202eevil',
  '\ufeff',
  '😀👍🏽',
  '%',
  '%00',
  '%ff',
  '../../etc/passwd',
  "' OR 1=1 --",
  '<script>alert(1)</script>',
  '\r\n\r\nX-Injected: 1',
  'null',
  'undefined',
  'NaN',
  '-1',
  '1e20',
  '99999999999999999999',
  'Infinity',
  '0x10',
  'true',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  '2024-02-30T25:61:00Z',
  '+275760-09-13T00:00:00.000Z',
  '0000-01-01T00:00:00Z',
  'é'.repeat(300),
  HUGE_STRING,
  ...PROTOTYPE_NAMES,
];

export const nastyNumbers: readonly unknown[] = [
  0,
  -1,
  1.5,
  -0.000001,
  2 ** 31,
  -(2 ** 31) - 1,
  Number.MAX_SAFE_INTEGER,
  new RawNumber('9007199254740993'),
  new RawNumber('1e20'),
  new RawNumber('99999999999999999999'),
  new RawNumber('1e999'),
  new RawNumber('-1e999'),
  new RawNumber('-0'),
  new RawNumber('1E+2'),
  new RawNumber('123456789012345678901234567890e-10'),
];

const deepArray = (depth: number): unknown => (depth === 0 ? [] : [deepArray(depth - 1)]);

export const nastyOthers: readonly unknown[] = [
  null,
  true,
  false,
  [],
  {},
  [null],
  [''],
  deepArray(200),
  bareObject([['__proto__', { polluted: true }]]),
  bareObject([['constructor', { prototype: { polluted: true } }]]),
  bareObject(PROTOTYPE_NAMES.map((name) => [name, name])),
];

/** Any nasty value: the type is part of what is wrong. */
export const nastyValue: fc.Arbitrary<unknown> = fc.oneof(fc.constantFrom(...nastyStrings), fc.constantFrom(...nastyNumbers), fc.constantFrom(...nastyOthers));

/** Keys to add to an object: prototype names first, then anything. */
export const extraKey: fc.Arbitrary<string> = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...PROTOTYPE_NAMES) }, { weight: 1, arbitrary: fc.constantFrom('extra', '', '\u0000', 'a.b', '$where') }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) });

/** Inserts `needle` somewhere into `text`. */
export function spliced(text: string, needle: string, at: number): string {
  const index = text.length === 0 ? 0 : at % (text.length + 1);
  return text.slice(0, index) + needle + text.slice(index);
}
