import { describe, expect, it } from 'vitest';
import { jpegBytes, pngBytes } from './__fixtures__/make-datasets.ts';
import { readImageHeader } from './image-header.ts';

const header = (bytes: Buffer) =>
  readImageHeader(
    bytes.subarray(0, 64 * 1024),
    bytes.subarray(Math.max(0, bytes.length - 1024)),
    bytes.length,
  );

function bmp(width: number, height: number): Buffer {
  const row = Math.ceil((width * 3) / 4) * 4;
  const bytes = Buffer.alloc(54 + row * height);
  bytes.write('BM', 0, 'latin1');
  bytes.writeUInt32LE(bytes.length, 2);
  bytes.writeUInt32LE(54, 10);
  bytes.writeUInt32LE(40, 14);
  bytes.writeInt32LE(width, 18);
  bytes.writeInt32LE(-height, 22); // top-down rows
  bytes.writeUInt16LE(1, 26);
  bytes.writeUInt16LE(24, 28);
  return bytes;
}

function webpVp8x(width: number, height: number): Buffer {
  const bytes = Buffer.alloc(30);
  bytes.write('RIFF', 0, 'latin1');
  bytes.writeUInt32LE(22, 4);
  bytes.write('WEBPVP8X', 8, 'latin1');
  bytes.writeUInt32LE(10, 16);
  bytes.writeUIntLE(width - 1, 24, 3);
  bytes.writeUIntLE(height - 1, 27, 3);
  return bytes;
}

function webpVp8l(width: number, height: number): Buffer {
  const bytes = Buffer.alloc(30);
  bytes.write('RIFF', 0, 'latin1');
  bytes.writeUInt32LE(22, 4);
  bytes.write('WEBPVP8L', 8, 'latin1');
  bytes.writeUInt32LE(10, 16);
  bytes[20] = 0x2f;
  const bits = (width - 1) | ((height - 1) << 14);
  bytes.writeUInt32LE(bits >>> 0, 21);
  return bytes;
}

function gif(width: number, height: number): Buffer {
  const bytes = Buffer.alloc(14);
  bytes.write('GIF89a', 0, 'latin1');
  bytes.writeUInt16LE(width, 6);
  bytes.writeUInt16LE(height, 8);
  bytes[13] = 0x3b;
  return bytes;
}

describe('readImageHeader', () => {
  it('reads PNG and JPEG sizes from real encoder output', () => {
    expect(header(pngBytes(64, 48, 1))).toEqual({ format: 'png', width: 64, height: 48 });
    expect(header(jpegBytes(80, 60, 1))).toEqual({ format: 'jpeg', width: 80, height: 60 });
  });

  it('walks past a large EXIF segment to the JPEG frame header', () => {
    const jpg = jpegBytes(33, 17, 2);
    const app1 = Buffer.alloc(4 + 30_000);
    app1[0] = 0xff;
    app1[1] = 0xe1;
    app1.writeUInt16BE(2 + 30_000, 2);
    const withExif = Buffer.concat([jpg.subarray(0, 2), app1, jpg.subarray(2)]);
    expect(header(withExif)).toEqual({ format: 'jpeg', width: 33, height: 17 });
  });

  it('reads BMP, WebP (VP8X and VP8L) and GIF sizes', () => {
    expect(header(bmp(10, 7))).toEqual({ format: 'bmp', width: 10, height: 7 });
    expect(header(webpVp8x(640, 480))).toEqual({ format: 'webp', width: 640, height: 480 });
    expect(header(webpVp8l(300, 200))).toEqual({ format: 'webp', width: 300, height: 200 });
    expect(header(gif(5, 9))).toEqual({ format: 'gif', width: 5, height: 9 });
  });

  it('flags truncated files by their missing end marker or declared size', () => {
    const png = pngBytes(64, 48, 3);
    expect(header(png.subarray(0, png.length - 20)).problem).toMatch(/IEND/);
    const jpg = jpegBytes(80, 60, 3);
    expect(header(jpg.subarray(0, jpg.length - 100)).problem).toMatch(/end-of-image/);
    const b = bmp(10, 7);
    expect(header(b.subarray(0, 60)).problem).toMatch(/BMP header says/);
    expect(header(webpVp8x(10, 10).subarray(0, 29)).problem).toMatch(/truncated/);
    expect(header(gif(5, 9).subarray(0, 12)).problem).toMatch(/trailer/);
  });

  it('flags bad signatures, empty files and headers that do not parse', () => {
    expect(header(Buffer.from('hello, not an image')).problem).toMatch(/bad signature/);
    expect(header(Buffer.alloc(0)).problem).toBe('empty file');
    expect(header(Buffer.concat([pngBytes(4, 4, 1).subarray(0, 8), Buffer.from('junk')])).problem).toMatch(
      /IHDR/,
    );
    const jpg = jpegBytes(80, 60, 4);
    // Cut inside the marker segments, before the frame header.
    expect(header(jpg.subarray(0, 10)).problem).toMatch(/SOF|marker/);
  });
});
