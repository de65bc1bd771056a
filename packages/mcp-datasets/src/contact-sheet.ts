import { readFile, stat } from 'node:fs/promises';

/** One picture on a contact sheet. */
export interface Tile {
  /** Absolute path of the image file. */
  path: string;
  /** Flat rows of five: class index, centre x, centre y, width, height (normalized). */
  boxes: number[];
  /** Colours the tile's top strip (the image's class, for classification). */
  classIndex?: number;
}

export interface SheetOptions {
  /** Edge of one square cell in pixels. */
  cell?: number;
  columns?: number;
}

/** Sheets never exceed this many cells: 6×8 cells of 128 px is at most 768×1024 pixels. */
export const maxTiles = 48;
/** Images above this are not decoded (a grey tile instead): the sheet must stay cheap. */
const maxDecodeBytes = 20 * 1024 * 1024;

/** Distinct colours for classes, cycling past twelve. */
export const palette: ReadonlyArray<readonly [number, number, number]> = [
  [230, 25, 75],
  [60, 180, 75],
  [255, 225, 25],
  [0, 130, 200],
  [245, 130, 48],
  [145, 30, 180],
  [70, 240, 240],
  [240, 50, 230],
  [210, 245, 60],
  [250, 190, 212],
  [0, 128, 128],
  [170, 110, 40],
];

export function colourOf(classIndex: number): readonly [number, number, number] {
  return palette[((classIndex % palette.length) + palette.length) % palette.length] as readonly [
    number,
    number,
    number,
  ];
}

interface Rgba {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * Renders tiles into one PNG: each image scaled to fit its cell, its boxes drawn in their
 * class colours. Images that cannot be decoded (corrupt, unsupported, too large) get a grey
 * cell with a cross. The image codecs load on first use so the server starts fast.
 */
export async function renderContactSheet(
  tiles: readonly Tile[],
  options: SheetOptions = {},
): Promise<Buffer> {
  const PNG = await loadPng();
  const cell = options.cell ?? 128;
  const shown = tiles.slice(0, maxTiles);
  const columns = Math.max(1, Math.min(options.columns ?? 6, shown.length));
  const rows = Math.max(1, Math.ceil(shown.length / columns));
  const gap = 2;
  const width = columns * (cell + gap) + gap;
  const height = rows * (cell + gap) + gap;
  const sheet = new PNG({ width, height });
  sheet.data.fill(32);
  for (let i = 3; i < sheet.data.length; i += 4) sheet.data[i] = 255;
  for (let t = 0; t < shown.length; t++) {
    const tile = shown[t] as Tile;
    const x0 = gap + (t % columns) * (cell + gap);
    const y0 = gap + Math.floor(t / columns) * (cell + gap);
    const image = await decode(tile.path);
    if (!image) {
      fillRect(sheet, x0, y0, cell, cell, [96, 96, 96]);
      for (let k = 0; k < cell; k++) {
        setPixel(sheet, x0 + k, y0 + k, [200, 40, 40]);
        setPixel(sheet, x0 + cell - 1 - k, y0 + k, [200, 40, 40]);
      }
      continue;
    }
    const scale = Math.min(cell / image.width, cell / image.height);
    const w = Math.max(1, Math.round(image.width * scale));
    const h = Math.max(1, Math.round(image.height * scale));
    const ox = x0 + Math.floor((cell - w) / 2);
    const oy = y0 + Math.floor((cell - h) / 2);
    for (let y = 0; y < h; y++) {
      const sy = Math.min(image.height - 1, Math.floor(y / scale));
      for (let x = 0; x < w; x++) {
        const sx = Math.min(image.width - 1, Math.floor(x / scale));
        const s = (sy * image.width + sx) * 4;
        const d = ((oy + y) * width + ox + x) * 4;
        sheet.data[d] = image.data[s] as number;
        sheet.data[d + 1] = image.data[s + 1] as number;
        sheet.data[d + 2] = image.data[s + 2] as number;
      }
    }
    for (let i = 0; i + 4 < tile.boxes.length; i += 5) {
      const [cls, cx, cy, bw, bh] = tile.boxes.slice(i, i + 5) as [number, number, number, number, number];
      if (![cx, cy, bw, bh].every(Number.isFinite)) continue;
      const colour = colourOf(cls);
      const left = ox + Math.round((cx - bw / 2) * w);
      const top = oy + Math.round((cy - bh / 2) * h);
      const right = ox + Math.round((cx + bw / 2) * w) - 1;
      const bottom = oy + Math.round((cy + bh / 2) * h) - 1;
      // Two pixels wide, so a box stays visible on a busy thumbnail.
      if (right - left > 3 && bottom - top > 3)
        strokeRect(sheet, left + 1, top + 1, right - 1, bottom - 1, colour, [
          x0,
          y0,
          x0 + cell - 1,
          y0 + cell - 1,
        ]);
      strokeRect(sheet, left, top, Math.max(left, right), Math.max(top, bottom), colour, [
        x0,
        y0,
        x0 + cell - 1,
        y0 + cell - 1,
      ]);
    }
    if (tile.classIndex !== undefined) fillRect(sheet, x0, y0, cell, 4, colourOf(tile.classIndex));
  }
  return PNG.sync.write(sheet);
}

// The codecs are CommonJS: bundled, `import()` puts their exports under `default`.
async function loadPng(): Promise<typeof import('pngjs').PNG> {
  const module = (await import('pngjs')) as unknown as {
    PNG?: typeof import('pngjs').PNG;
    default?: { PNG: typeof import('pngjs').PNG };
  };
  return (module.PNG ?? module.default?.PNG) as typeof import('pngjs').PNG;
}

async function loadJpegDecoder(): Promise<typeof import('jpeg-js').decode> {
  const module = (await import('jpeg-js')) as unknown as {
    decode?: typeof import('jpeg-js').decode;
    default?: { decode: typeof import('jpeg-js').decode };
  };
  return (module.decode ?? module.default?.decode) as typeof import('jpeg-js').decode;
}

async function decode(path: string): Promise<Rgba | undefined> {
  try {
    if ((await stat(path)).size > maxDecodeBytes) return undefined;
    const bytes = await readFile(path);
    if (bytes[0] === 0x89 && bytes[1] === 0x50) {
      const png = (await loadPng()).sync.read(bytes);
      return { width: png.width, height: png.height, data: png.data };
    }
    if (bytes[0] === 0xff && bytes[1] === 0xd8) {
      const image = (await loadJpegDecoder())(bytes, {
        useTArray: true,
        formatAsRGBA: true,
        maxResolutionInMP: 64,
        maxMemoryUsageInMB: 512,
      });
      return { width: image.width, height: image.height, data: image.data };
    }
  } catch {
    // Corrupt or unsupported: the caller draws a placeholder.
  }
  return undefined;
}

type Canvas = { width: number; height: number; data: Buffer };

function setPixel(canvas: Canvas, x: number, y: number, [r, g, b]: readonly [number, number, number]): void {
  if (x < 0 || y < 0 || x >= canvas.width || y >= canvas.height) return;
  const i = (y * canvas.width + x) * 4;
  canvas.data[i] = r;
  canvas.data[i + 1] = g;
  canvas.data[i + 2] = b;
  canvas.data[i + 3] = 255;
}

function fillRect(
  canvas: Canvas,
  x: number,
  y: number,
  w: number,
  h: number,
  colour: readonly [number, number, number],
) {
  for (let j = y; j < y + h; j++) for (let i = x; i < x + w; i++) setPixel(canvas, i, j, colour);
}

function strokeRect(
  canvas: Canvas,
  left: number,
  top: number,
  right: number,
  bottom: number,
  colour: readonly [number, number, number],
  [cx0, cy0, cx1, cy1]: [number, number, number, number],
): void {
  const clipX = (x: number) => Math.min(cx1, Math.max(cx0, x));
  const clipY = (y: number) => Math.min(cy1, Math.max(cy0, y));
  const l = clipX(left);
  const r = clipX(right);
  const t = clipY(top);
  const b = clipY(bottom);
  for (let x = l; x <= r; x++) {
    setPixel(canvas, x, t, colour);
    setPixel(canvas, x, b, colour);
  }
  for (let y = t; y <= b; y++) {
    setPixel(canvas, l, y, colour);
    setPixel(canvas, r, y, colour);
  }
}
