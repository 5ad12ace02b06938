import sharp from 'sharp';
import t from 'tap';
import { buildChatApp } from '../../support/chat.js';
import { fetchMedia, upload } from '../../support/media.js';

/*
 * Every accepted image type is stored without metadata. A GIF's comment extension can carry any
 * text (here a script); the stored GIF must not.
 */

/** A real GIF with a comment extension (0x21 0xFE) holding `text`, placed before the image data. */
async function gifWithComment(text: string): Promise<Buffer> {
  const gif = await sharp({ create: { width: 9, height: 7, channels: 3, background: { r: 10, g: 200, b: 30 } } }).gif().toBuffer();
  const flags = gif[10]!;
  const colourTable = flags & 0x80 ? 3 * (1 << ((flags & 7) + 1)) : 0;
  const at = 13 + colourTable;
  const bytes = Buffer.from(text);
  return Buffer.concat([gif.subarray(0, at), Buffer.from([0x21, 0xfe, bytes.length]), bytes, Buffer.from([0]), gif.subarray(at)]);
}

const h = await buildChatApp(t);

t.test('a GIF is stored without its comment block, still a GIF of the same size', async (t) => {
  const user = await h.user();
  const script = '<script>alert(document.cookie)</script>';
  const original = await gifWithComment(script);
  t.ok(original.includes(script), 'the upload carries the script');
  t.equal((await sharp(original).metadata()).format, 'gif', 'and is a valid GIF');

  const item = await upload(h.app, user, original, 'funny.gif');
  t.match(item, { mime: 'image/gif', kind: 'image', width: 9, height: 7 });
  const stored = (await fetchMedia(h.app, `/media/${item.id}`, { token: user.accessToken })).rawPayload;
  t.notOk(stored.includes(script), 'the stored bytes do not carry it');
  t.notOk(stored.includes(Buffer.from([0x21, 0xfe])), 'no comment extension at all');
  t.match(await sharp(stored).metadata(), { format: 'gif', width: 9, height: 7 }, 'still a GIF');
});
