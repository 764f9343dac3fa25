/**
 * Dependency-free SVG charts for run reports: a line chart (loss and
 * validation macro-F1 per epoch) and grouped bars (per-label F1, challenger
 * against champion). Plain SVG opens in any browser and renders on GitHub.
 */

export interface Series {
  readonly name: string;
  readonly values: readonly number[];
  readonly color: string;
  /** Plot against the right-hand axis (0..1). */
  readonly right?: boolean;
}

const W = 720;
const H = 360;
const PAD = { left: 56, right: 56, top: 36, bottom: 48 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmt(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
}

export function lineChart(title: string, xLabel: string, series: readonly Series[], marker?: { x: number; label: string }): string {
  const n = Math.max(1, ...series.map((s) => s.values.length));
  const left = series.filter((s) => !s.right).flatMap((s) => s.values.filter(Number.isFinite));
  const lMax = left.length ? Math.max(...left) * 1.05 : 1;
  const lMin = left.length ? Math.min(0, Math.min(...left)) : 0;
  const pw = W - PAD.left - PAD.right;
  const ph = H - PAD.top - PAD.bottom;
  const x = (i: number): number => PAD.left + (n === 1 ? pw / 2 : (i / (n - 1)) * pw);
  const yL = (v: number): number => PAD.top + ph - ((v - lMin) / (lMax - lMin || 1)) * ph;
  const yR = (v: number): number => PAD.top + ph - v * ph;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`);
  for (let k = 0; k <= 4; k++) {
    const yy = PAD.top + (k / 4) * ph;
    parts.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`);
    parts.push(`<text x="${PAD.left - 6}" y="${yy + 4}" text-anchor="end" fill="#555">${fmt(lMax - (k / 4) * (lMax - lMin))}</text>`);
    if (series.some((s) => s.right)) parts.push(`<text x="${W - PAD.right + 6}" y="${yy + 4}" fill="#555">${(1 - k / 4).toFixed(2)}</text>`);
  }
  const step = Math.max(1, Math.ceil(n / 15));
  for (let i = 0; i < n; i += step) parts.push(`<text x="${x(i)}" y="${H - PAD.bottom + 16}" text-anchor="middle" fill="#555">${i + 1}</text>`);
  parts.push(`<text x="${W / 2}" y="${H - 10}" text-anchor="middle">${esc(xLabel)}</text>`);
  if (marker && marker.x >= 1 && marker.x <= n) {
    const mx = x(marker.x - 1);
    parts.push(`<line x1="${mx}" x2="${mx}" y1="${PAD.top}" y2="${PAD.top + ph}" stroke="#888" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${mx + 4}" y="${PAD.top + 12}" fill="#555">${esc(marker.label)}</text>`);
  }
  series.forEach((s, si) => {
    const pts = s.values
      .map((v, i) => (Number.isFinite(v) ? `${x(i).toFixed(1)},${(s.right ? yR(v) : yL(v)).toFixed(1)}` : ''))
      .filter(Boolean);
    if (pts.length > 1) parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.join(' ')}"/>`);
    for (const p of pts) {
      const [cx, cy] = p.split(',');
      parts.push(`<circle cx="${cx}" cy="${cy}" r="2.5" fill="${s.color}"/>`);
    }
    const ly = PAD.top + 4 + si * 16;
    parts.push(`<rect x="${PAD.left + 10}" y="${ly}" width="12" height="3" fill="${s.color}"/>`);
    parts.push(`<text x="${PAD.left + 28}" y="${ly + 5}">${esc(s.name)}${s.right ? ' (right axis)' : ''}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

export function groupedBars(title: string, categories: readonly string[], groups: ReadonlyArray<{ name: string; values: readonly number[]; color: string }>): string {
  const height = PAD.top + PAD.bottom + 40 + categories.length * (groups.length * 12 + 10);
  const labelW = 110;
  const pw = W - labelW - 60;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${height}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`);
  groups.forEach((g, gi) => {
    parts.push(`<rect x="${labelW + gi * 160}" y="30" width="12" height="10" fill="${g.color}"/>`);
    parts.push(`<text x="${labelW + 16 + gi * 160}" y="39">${esc(g.name)}</text>`);
  });
  const top = 56;
  for (let k = 0; k <= 4; k++) {
    const xx = labelW + (k / 4) * pw;
    parts.push(`<line x1="${xx}" x2="${xx}" y1="${top - 4}" y2="${height - PAD.bottom + 8}" stroke="#ddd"/>`);
    parts.push(`<text x="${xx}" y="${height - PAD.bottom + 22}" text-anchor="middle" fill="#555">${(k / 4).toFixed(2)}</text>`);
  }
  categories.forEach((c, ci) => {
    const y0 = top + ci * (groups.length * 12 + 10);
    parts.push(`<text x="${labelW - 8}" y="${y0 + groups.length * 6 + 4}" text-anchor="end">${esc(c)}</text>`);
    groups.forEach((g, gi) => {
      const v = g.values[ci];
      const w = Number.isFinite(v) ? Math.max(0, Math.min(1, v)) * pw : 0;
      parts.push(`<rect x="${labelW}" y="${y0 + gi * 12}" width="${w.toFixed(1)}" height="10" fill="${g.color}"/>`);
      parts.push(`<text x="${labelW + w + 4}" y="${y0 + gi * 12 + 9}" font-size="10" fill="#333">${Number.isFinite(v) ? v.toFixed(2) : 'n/a'}</text>`);
    });
  });
  parts.push(`<text x="${labelW + pw / 2}" y="${height - 8}" text-anchor="middle">F1 on the test split</text>`);
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
