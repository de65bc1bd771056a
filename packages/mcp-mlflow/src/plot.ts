/**
 * A dependency-light line chart: pixels drawn here, encoded by pngjs (pure JavaScript), so the
 * server needs no native canvas. Text uses a built-in 3×5 pixel font, scaled.
 */

export interface PlotSeries {
  label: string;
  points: Array<{ x: number; y: number }>;
}

export interface PlotOptions {
  width: number;
  height: number;
  title: string;
  xLabel: string;
  logY: boolean;
}

export const palette: Array<[number, number, number]> = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
];

export const colorName = (i: number) => {
  const [r, g, b] = palette[i % palette.length] as [number, number, number];
  return `#${[r, g, b].map((c) => c.toString(16).padStart(2, '0')).join('')}`;
};

// 3×5 glyphs, rows top to bottom, '#' = ink.
const glyphs: Record<string, string> = {
  '0': '###,#.#,#.#,#.#,###',
  '1': '.#.,##.,.#.,.#.,###',
  '2': '###,..#,###,#..,###',
  '3': '###,..#,.##,..#,###',
  '4': '#.#,#.#,###,..#,..#',
  '5': '###,#..,###,..#,###',
  '6': '###,#..,###,#.#,###',
  '7': '###,..#,.#.,.#.,.#.',
  '8': '###,#.#,###,#.#,###',
  '9': '###,#.#,###,..#,###',
  '.': '...,...,...,...,.#.',
  '-': '...,...,###,...,...',
  '+': '...,.#.,###,.#.,...',
  _: '...,...,...,...,###',
  '/': '..#,..#,.#.,#..,#..',
  ':': '...,.#.,...,.#.,...',
  '(': '.#.,#..,#..,#..,.#.',
  ')': '.#.,..#,..#,..#,.#.',
  ' ': '...,...,...,...,...',
  a: '.#.,#.#,###,#.#,#.#',
  b: '##.,#.#,##.,#.#,##.',
  c: '.##,#..,#..,#..,.##',
  d: '##.,#.#,#.#,#.#,##.',
  e: '###,#..,##.,#..,###',
  f: '###,#..,##.,#..,#..',
  g: '.##,#..,#.#,#.#,.##',
  h: '#.#,#.#,###,#.#,#.#',
  i: '###,.#.,.#.,.#.,###',
  j: '..#,..#,..#,#.#,.#.',
  k: '#.#,#.#,##.,#.#,#.#',
  l: '#..,#..,#..,#..,###',
  m: '#.#,###,###,#.#,#.#',
  n: '##.,#.#,#.#,#.#,#.#',
  o: '.#.,#.#,#.#,#.#,.#.',
  p: '##.,#.#,##.,#..,#..',
  q: '.#.,#.#,#.#,##.,.##',
  r: '##.,#.#,##.,#.#,#.#',
  s: '.##,#..,.#.,..#,##.',
  t: '###,.#.,.#.,.#.,.#.',
  u: '#.#,#.#,#.#,#.#,###',
  v: '#.#,#.#,#.#,#.#,.#.',
  w: '#.#,#.#,###,###,#.#',
  x: '#.#,#.#,.#.,#.#,#.#',
  y: '#.#,#.#,.#.,.#.,.#.',
  z: '###,..#,.#.,#..,###',
};

class Canvas {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
  constructor(width: number, height: number) {
    this.width = width;
    this.height = height;
    this.data = Buffer.alloc(width * height * 4, 255);
  }
  set(x: number, y: number, [r, g, b]: [number, number, number]) {
    const xi = Math.round(x);
    const yi = Math.round(y);
    if (xi < 0 || yi < 0 || xi >= this.width || yi >= this.height) return;
    const i = (yi * this.width + xi) * 4;
    this.data[i] = r;
    this.data[i + 1] = g;
    this.data[i + 2] = b;
    this.data[i + 3] = 255;
  }
  rect(x: number, y: number, w: number, h: number, color: [number, number, number]) {
    for (let j = 0; j < h; j++) for (let i = 0; i < w; i++) this.set(x + i, y + j, color);
  }
  line(x0: number, y0: number, x1: number, y1: number, color: [number, number, number], thick = 1) {
    const steps = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
    for (let s = 0; s <= steps; s++) {
      const x = x0 + ((x1 - x0) * s) / steps;
      const y = y0 + ((y1 - y0) * s) / steps;
      if (thick > 1) this.rect(x - 1, y - 1, thick, thick, color);
      else this.set(x, y, color);
    }
  }
  text(x: number, y: number, text: string, color: [number, number, number], scale = 2) {
    let cx = x;
    for (const ch of text.toLowerCase()) {
      const glyph = glyphs[ch] ?? glyphs[' '];
      glyph?.split(',').forEach((row, j) => {
        for (let i = 0; i < row.length; i++)
          if (row[i] === '#') this.rect(cx + i * scale, y + j * scale, scale, scale, color);
      });
      cx += 4 * scale;
    }
  }
}

const textWidth = (text: string, scale = 2) => text.length * 4 * scale;

/** Short tick labels: 0.0123, 1.5e-05, 12k. */
export function formatTick(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e5 || abs < 1e-3) return value.toExponential(1).replace('e+', 'e');
  if (abs >= 1000) return `${Math.round(value / 100) / 10}k`;
  return String(Number(value.toPrecision(3)));
}

/** Renders series as RGBA pixels; `encodePng` turns them into a PNG. */
export function renderChart(series: readonly PlotSeries[], options: PlotOptions) {
  const { width, height } = options;
  const canvas = new Canvas(width, height);
  const legendRows = Math.ceil(series.length / 2);
  const margin = { left: 80, right: 20, top: 34, bottom: 44 + legendRows * 16 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const ty = (y: number) => (options.logY ? Math.log10(y) : y);
  const all = series.flatMap((s) => s.points).filter((p) => Number.isFinite(ty(p.y)));
  const xs = all.map((p) => p.x);
  const ys = all.map((p) => ty(p.y));
  let [xMin, xMax] = [Math.min(...xs), Math.max(...xs)];
  let [yMin, yMax] = [Math.min(...ys), Math.max(...ys)];
  if (!Number.isFinite(xMin)) [xMin, xMax] = [0, 1];
  if (!Number.isFinite(yMin)) [yMin, yMax] = [0, 1];
  if (xMax === xMin) xMax = xMin + 1;
  if (yMax === yMin) [yMin, yMax] = [yMin - 0.5, yMax + 0.5];
  const pad = (yMax - yMin) * 0.05;
  yMin -= pad;
  yMax += pad;
  const px = (x: number) => margin.left + ((x - xMin) / (xMax - xMin)) * plotW;
  const py = (y: number) => margin.top + plotH - ((ty(y) - yMin) / (yMax - yMin)) * plotH;

  const grid: [number, number, number] = [232, 232, 232];
  const axis: [number, number, number] = [90, 90, 90];
  for (let i = 0; i <= 5; i++) {
    const gy = margin.top + (plotH * i) / 5;
    canvas.line(margin.left, gy, margin.left + plotW, gy, grid);
    const value = yMax - ((yMax - yMin) * i) / 5;
    const label = formatTick(options.logY ? 10 ** value : value);
    canvas.text(margin.left - 6 - textWidth(label), gy - 5, label, axis);
    const gx = margin.left + (plotW * i) / 5;
    canvas.line(gx, margin.top, gx, margin.top + plotH, grid);
    const xl = formatTick(xMin + ((xMax - xMin) * i) / 5);
    canvas.text(gx - textWidth(xl) / 2, margin.top + plotH + 6, xl, axis);
  }
  canvas.line(margin.left, margin.top, margin.left, margin.top + plotH, axis);
  canvas.line(margin.left, margin.top + plotH, margin.left + plotW, margin.top + plotH, axis);
  canvas.text(margin.left, 10, options.title.slice(0, Math.floor((width - margin.left) / 8)), [30, 30, 30]);
  canvas.text(margin.left + plotW - textWidth(options.xLabel), margin.top + plotH + 22, options.xLabel, axis);

  series.forEach((s, k) => {
    const color = palette[k % palette.length] as [number, number, number];
    const pts = s.points.filter((p) => Number.isFinite(ty(p.y)));
    for (let i = 1; i < pts.length; i++) {
      const a = pts[i - 1] as { x: number; y: number };
      const b = pts[i] as { x: number; y: number };
      canvas.line(px(a.x), py(a.y), px(b.x), py(b.y), color, 2);
    }
    if (pts.length === 1)
      canvas.rect(px((pts[0] as { x: number }).x) - 2, py((pts[0] as { y: number }).y) - 2, 5, 5, color);
    const lx = margin.left + (k % 2) * Math.floor(plotW / 2);
    const ly = margin.top + plotH + 40 + Math.floor(k / 2) * 16;
    canvas.rect(lx, ly + 2, 14, 6, color);
    canvas.text(lx + 20, ly, s.label.slice(0, Math.floor(plotW / 2 / 8) - 4), [40, 40, 40]);
  });
  return canvas;
}

/** Encodes the chart as PNG bytes; pngjs is loaded only when a chart is drawn. */
export async function encodePng(series: readonly PlotSeries[], options: PlotOptions): Promise<Buffer> {
  const canvas = renderChart(series, options);
  // pngjs is CommonJS: bundled, its exports arrive on `default`; run from source, also as names.
  const pngjs = await import('pngjs');
  const PNG = pngjs.PNG ?? (pngjs as unknown as { default: typeof pngjs }).default.PNG;
  const png = new PNG({ width: canvas.width, height: canvas.height });
  canvas.data.copy(png.data);
  return PNG.sync.write(png);
}
