/**
 * Progress for long work: a live bar in a terminal (cli-progress), a live-updating line in a notebook
 * (tslab's overwriting display), or a line every ~10% when output is a log (CI, files). Quiet with WRAPLAB_QUIET=1.
 */
import * as cliProgress from 'cli-progress';
import { tslab } from '../notebook';

export interface Progress {
  update(done: number, info?: Record<string, number | string>): void;
  finish(info?: Record<string, number | string>): void;
}

function formatInfo(info?: Record<string, number | string>): string {
  if (!info) return '';
  return Object.entries(info)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? (Number.isInteger(v) ? v : v.toPrecision(4)) : v}`)
    .join(' ');
}

function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export function createProgress(label: string, total: number): Progress {
  const start = Date.now();
  if (process.env.WRAPLAB_QUIET === '1') return { update() {}, finish() {} };
  const nb = tslab();
  if (nb) {
    const display = nb.newDisplay();
    let last = 0;
    const show = (done: number, info?: Record<string, number | string>, final = false) => {
      const now = Date.now();
      if (!final && now - last < 250) return;
      last = now;
      const frac = total > 0 ? done / total : 1;
      const width = 30;
      const filled = Math.round(frac * width);
      const eta = done > 0 && !final ? ` eta ${formatDuration(((now - start) / done) * (total - done))}` : '';
      display.text(`${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${formatDuration(now - start)}${eta} ${formatInfo(info)}`);
    };
    return { update: (d, i) => show(d, i), finish: (i) => show(total, i, true) };
  }
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {value}/{total} {duration_formatted} eta {eta_formatted} {info}`, stream: process.stderr, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { info: '' });
    return {
      update: (d, i) => bar.update(d, { info: formatInfo(i) }),
      finish: (i) => {
        bar.update(total, { info: formatInfo(i) });
        bar.stop();
      },
    };
  }
  let nextReport = 0.1;
  let lastWrite = start;
  return {
    update(done, info) {
      // Every ~10%, and at least once a minute: a long run never looks hung in a log.
      const now = Date.now();
      if (total > 0 && (done / total >= nextReport || now - lastWrite >= 60_000)) {
        const eta = done > 0 && done < total ? ` eta ${formatDuration(((now - start) / done) * (total - done))}` : '';
        process.stderr.write(`${label} ${done}/${total} ${formatDuration(now - start)}${eta} ${formatInfo(info)}\n`);
        lastWrite = now;
        if (done / total >= nextReport) nextReport = Math.floor((done / total) * 10 + 1) / 10;
      }
    },
    finish(info) {
      process.stderr.write(`${label} done ${total}/${total} in ${formatDuration(Date.now() - start)} ${formatInfo(info)}\n`);
    },
  };
}
