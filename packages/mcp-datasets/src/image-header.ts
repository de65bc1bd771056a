/**
 * Image facts from the bytes alone: format, pixel size from the header (JPEG SOF, PNG IHDR,
 * BMP, WebP, GIF), and cheap signs of damage (bad signature, header that does not parse,
 * truncation, missing end marker). Nothing here decodes pixels: a scan of 100k images has to
 * stay at the cost of reading them.
 */
export type ImageFormat = 'jpeg' | 'png' | 'bmp' | 'webp' | 'gif';

export interface ImageHeader {
  format?: ImageFormat;
  width?: number;
  height?: number;
  /** Why the file looks unreadable; absent when it looks whole. */
  problem?: string;
}

/** File extensions treated as images when walking a dataset. */
export const imageExtensions: ReadonlySet<string> = new Set([
  '.jpg',
  '.jpeg',
  '.png',
  '.bmp',
  '.webp',
  '.gif',
]);

const pngSignature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Reads an image's header. `head` holds the file's first bytes (at least 64 KiB when the file
 * is that large, so EXIF-heavy JPEGs still reach their SOF), `tail` its last bytes, `size`
 * its length on disk.
 */
export function readImageHeader(head: Buffer, tail: Buffer, size: number): ImageHeader {
  if (size === 0) return { problem: 'empty file' };
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return jpeg(head, tail);
  if (head.length >= 8 && head.subarray(0, 8).equals(pngSignature)) return png(head, tail);
  if (head.length >= 2 && head[0] === 0x42 && head[1] === 0x4d) return bmp(head, size);
  if (
    head.length >= 12 &&
    head.toString('latin1', 0, 4) === 'RIFF' &&
    head.toString('latin1', 8, 12) === 'WEBP'
  )
    return webp(head, size);
  if (head.length >= 6 && /^GIF8[79]a$/.test(head.toString('latin1', 0, 6))) return gif(head, tail);
  return { problem: 'not a JPEG, PNG, BMP, WebP or GIF (bad signature)' };
}

function sized(format: ImageFormat, width: number, height: number, problem?: string): ImageHeader {
  if (!(width > 0 && height > 0))
    return { format, problem: problem ?? `header gives a ${width}×${height} image` };
  return problem ? { format, width, height, problem } : { format, width, height };
}

function isSof(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

function jpeg(head: Buffer, tail: Buffer): ImageHeader {
  // Walk the marker segments up to the first start-of-frame, which carries the size.
  let p = 2;
  let width = 0;
  let height = 0;
  while (p + 3 < head.length) {
    if (head[p] !== 0xff) return { format: 'jpeg', problem: `JPEG marker expected at byte ${p}` };
    let marker = head[p + 1] as number;
    while (marker === 0xff && p + 2 < head.length) {
      p++;
      marker = head[p + 1] as number;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      p += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) break;
    const length = head.readUInt16BE(p + 2);
    if (length < 2) return { format: 'jpeg', problem: `bad JPEG segment length at byte ${p}` };
    if (isSof(marker)) {
      if (p + 9 > head.length) break;
      height = head.readUInt16BE(p + 5);
      width = head.readUInt16BE(p + 7);
      break;
    }
    p += 2 + length;
  }
  if (width === 0 && height === 0) return { format: 'jpeg', problem: 'no JPEG frame header (SOF) found' };
  // Some writers pad after the end-of-image marker, so look near the end rather than at it.
  const eoi = tail.lastIndexOf(Buffer.from([0xff, 0xd9]));
  return sized('jpeg', width, height, eoi < 0 ? 'truncated: JPEG end-of-image marker missing' : undefined);
}

function png(head: Buffer, tail: Buffer): ImageHeader {
  if (head.length < 24 || head.toString('latin1', 12, 16) !== 'IHDR')
    return { format: 'png', problem: 'PNG header chunk (IHDR) missing' };
  const width = head.readUInt32BE(16);
  const height = head.readUInt32BE(20);
  const ended = tail.lastIndexOf('IEND', undefined, 'latin1') >= 0;
  return sized('png', width, height, ended ? undefined : 'truncated: PNG end chunk (IEND) missing');
}

function bmp(head: Buffer, size: number): ImageHeader {
  if (head.length < 26) return { format: 'bmp', problem: 'BMP header truncated' };
  const declared = head.readUInt32LE(2);
  const dib = head.readUInt32LE(14);
  const width = dib === 12 ? head.readUInt16LE(18) : head.readInt32LE(18);
  const height = Math.abs(dib === 12 ? head.readUInt16LE(20) : head.readInt32LE(22));
  return sized(
    'bmp',
    width,
    height,
    declared > size ? `truncated: BMP header says ${declared} bytes, file has ${size}` : undefined,
  );
}

function webp(head: Buffer, size: number): ImageHeader {
  const declared = head.readUInt32LE(4) + 8;
  const truncated =
    declared > size ? `truncated: RIFF header says ${declared} bytes, file has ${size}` : undefined;
  if (head.length < 30) return { format: 'webp', problem: 'WebP header truncated' };
  const chunk = head.toString('latin1', 12, 16);
  if (chunk === 'VP8X')
    return sized('webp', 1 + head.readUIntLE(24, 3), 1 + head.readUIntLE(27, 3), truncated);
  if (chunk === 'VP8L') {
    const b1 = head[22] as number;
    const b2 = head[23] as number;
    const b3 = head[24] as number;
    const width = 1 + ((head[21] as number) | ((b1 & 0x3f) << 8));
    const height = 1 + ((b1 >> 6) | (b2 << 2) | ((b3 & 0x0f) << 10));
    return sized('webp', width, height, truncated);
  }
  if (chunk === 'VP8 ') {
    if (head[23] !== 0x9d || head[24] !== 0x01 || head[25] !== 0x2a)
      return { format: 'webp', problem: 'WebP VP8 frame start code missing' };
    return sized('webp', head.readUInt16LE(26) & 0x3fff, head.readUInt16LE(28) & 0x3fff, truncated);
  }
  return { format: 'webp', problem: `unknown WebP chunk "${chunk}"` };
}

function gif(head: Buffer, tail: Buffer): ImageHeader {
  if (head.length < 10) return { format: 'gif', problem: 'GIF header truncated' };
  const ended = tail.length > 0 && tail[tail.length - 1] === 0x3b;
  return sized(
    'gif',
    head.readUInt16LE(6),
    head.readUInt16LE(8),
    ended ? undefined : 'truncated: GIF trailer missing',
  );
}
