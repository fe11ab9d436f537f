// The plot of `bench:load`: latency percentiles against offered load (both log scales), one colour per
// system, p50 dotted, p95 solid, p99 dashed, and the 50 ms line the targets are set at. Plain SVG
// written here: a few lines and labels do not need a charting library.

export interface PlotSeries {
  readonly name: string;
  readonly colour: string;
  readonly points: readonly { offered: number; p50: number; p95: number; p99: number }[];
}

const WIDTH = 760;
const HEIGHT = 440;
const LEFT = 64;
const RIGHT = 180;
const TOP = 24;
const BOTTOM = 48;

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export function latencyPlot(title: string, series: readonly PlotSeries[]): string {
  const xs = series.flatMap((s) => s.points.map((p) => p.offered));
  const minX = Math.min(50, ...xs) / 1.15;
  const maxX = Math.max(100, ...xs) * 1.15;
  const minY = 0.5;
  const maxY = 2000;
  const x = (value: number) =>
    LEFT + (Math.log10(value / minX) / Math.log10(maxX / minX)) * (WIDTH - LEFT - RIGHT);
  const y = (ms: number) => {
    const clamped = Math.min(maxY, Math.max(minY, ms));
    return TOP + (1 - Math.log10(clamped / minY) / Math.log10(maxY / minY)) * (HEIGHT - TOP - BOTTOM);
  };
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${LEFT}" y="16" font-size="14" font-weight="bold">${escape(title)}</text>`,
  ];
  for (const ms of [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000]) {
    parts.push(
      `<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${y(ms)}" y2="${y(ms)}" stroke="${ms === 50 ? '#c00' : '#ddd'}" stroke-width="${ms === 50 ? 1.5 : 1}"/>`,
      `<text x="${LEFT - 6}" y="${y(ms) + 4}" text-anchor="end">${ms}</text>`,
    );
  }
  for (const v of [50, 100, 200, 500, 1000, 2000, 5000, 10000].filter((t) => t >= minX && t <= maxX)) {
    parts.push(
      `<line x1="${x(v)}" x2="${x(v)}" y1="${TOP}" y2="${HEIGHT - BOTTOM}" stroke="#eee"/>`,
      `<text x="${x(v)}" y="${HEIGHT - BOTTOM + 16}" text-anchor="middle">${v}</text>`,
    );
  }
  parts.push(
    `<text x="${(LEFT + WIDTH - RIGHT) / 2}" y="${HEIGHT - 10}" text-anchor="middle">offered load, requests per second (clinic mix, log scale)</text>`,
    `<text transform="translate(16 ${(TOP + HEIGHT - BOTTOM) / 2}) rotate(-90)" text-anchor="middle">latency, ms (log scale)</text>`,
  );
  const dashes = { p50: '2 3', p95: '', p99: '7 4' } as const;
  let legend = TOP + 10;
  for (const s of series) {
    for (const pct of ['p50', 'p95', 'p99'] as const) {
      const path = s.points
        .map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.offered).toFixed(1)},${y(p[pct]).toFixed(1)}`)
        .join(' ');
      parts.push(
        `<path d="${path}" fill="none" stroke="${s.colour}" stroke-width="${pct === 'p95' ? 2.5 : 1.5}" stroke-dasharray="${dashes[pct]}"/>`,
      );
      for (const p of s.points)
        parts.push(
          `<circle cx="${x(p.offered).toFixed(1)}" cy="${y(p[pct]).toFixed(1)}" r="2" fill="${s.colour}"/>`,
        );
    }
    parts.push(
      `<line x1="${WIDTH - RIGHT + 12}" x2="${WIDTH - RIGHT + 36}" y1="${legend}" y2="${legend}" stroke="${s.colour}" stroke-width="2.5"/>`,
      `<text x="${WIDTH - RIGHT + 42}" y="${legend + 4}">${escape(s.name)}</text>`,
    );
    legend += 18;
  }
  legend += 8;
  for (const pct of ['p50', 'p95', 'p99'] as const) {
    parts.push(
      `<line x1="${WIDTH - RIGHT + 12}" x2="${WIDTH - RIGHT + 36}" y1="${legend}" y2="${legend}" stroke="#333" stroke-width="1.5" stroke-dasharray="${dashes[pct]}"/>`,
      `<text x="${WIDTH - RIGHT + 42}" y="${legend + 4}">${pct}</text>`,
    );
    legend += 18;
  }
  parts.push(`<text x="${WIDTH - RIGHT + 12}" y="${legend + 8}" fill="#c00">— 50 ms target</text>`, '</svg>');
  return `${parts.join('\n')}\n`;
}
