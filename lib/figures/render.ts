/**
 * Static export of plotly figures with headless Chromium (Debian's `chromium`, driven by playwright-core).
 * One browser per process, launched on first use, with plotly loaded once into a blank page; each figure is
 * then one Plotly.toImage call. Never downloads a browser: set WRAPLAB_CHROMIUM (or CHROME_PATH) or install
 * Debian's chromium.
 */
import * as fs from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { WraplabError } from '../engine/errors';
import type { Figure } from './figure';
import { plotlyJs } from './figure';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

export class ChromiumMissingError extends WraplabError {}

export function findChromium(): string {
  const fromEnv = process.env.WRAPLAB_CHROMIUM || process.env.CHROME_PATH;
  if (fromEnv) {
    if (!fs.existsSync(fromEnv)) throw new ChromiumMissingError(`WRAPLAB_CHROMIUM=${fromEnv} does not exist; point it at a Chromium/Chrome binary, or pass --no-images to skip PNG/SVG`);
    return fromEnv;
  }
  const found = CANDIDATES.find((p) => fs.existsSync(p));
  if (!found) {
    throw new ChromiumMissingError(
      'PNG/SVG export needs Chromium: install it (Debian: `apt-get install chromium`) or set WRAPLAB_CHROMIUM=/path/to/chromium (or pass --no-images to skip PNG/SVG)',
    );
  }
  return found;
}

let session: Promise<{ browser: Browser; page: Page }> | null = null;

async function openSession(): Promise<{ browser: Browser; page: Page }> {
  const { chromium } = require('playwright-core') as typeof import('playwright-core');
  const executablePath = findChromium();
  let browser: Browser;
  try {
    browser = await chromium.launch({
      executablePath,
      timeout: 60_000,
      // Playwright's own SIGINT handler exits the process: in a notebook, Kernel -> Interrupt would kill the kernel.
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  } catch (e) {
    // Playwright's message is a many-line launch log; the user needs the binary, the variable and the way out.
    const first = (e as Error).message.split('\n').find((l) => l.trim() && !/^\s*=+/.test(l))?.trim() ?? 'it did not start';
    const from = process.env.WRAPLAB_CHROMIUM ? 'WRAPLAB_CHROMIUM=' : process.env.CHROME_PATH ? 'CHROME_PATH=' : '';
    throw new ChromiumMissingError(
      `${from}${executablePath} could not be started as headless Chromium (${first.slice(0, 200)}); point WRAPLAB_CHROMIUM at a working Chromium/Chrome, install Debian's chromium, or pass --no-images to skip PNG/SVG`,
    );
  }
  // An interrupt signals the kernel's whole process group, Chromium too: the next figure opens a new one.
  browser.on('disconnected', () => {
    session = null;
  });
  const page = await browser.newPage();
  await page.setContent('<!DOCTYPE html><html><body><div id="fig"></div></body></html>');
  await page.addScriptTag({ content: plotlyJs() });
  return { browser, page };
}

export async function renderImages(fig: Figure, size: { width: number; height: number }, opts: { svg?: boolean } = {}): Promise<{ png: Uint8Array; svg: string }> {
  if (!session) {
    session = openSession();
    session.catch(() => {
      session = null;
    });
  }
  const { page } = await session;
  const result = await page.evaluate(
    async ({ fig, size, wantSvg }) => {
      const P = (globalThis as unknown as { Plotly: { toImage(f: unknown, o: unknown): Promise<string> } }).Plotly;
      // Fixed trace ids, so the SVG's class names do not change from run to run.
      const spec = { data: fig.data.map((t, i) => ({ uid: `t${i}`, ...t })), layout: { ...fig.layout, width: size.width, height: size.height } };
      const png = await P.toImage(spec, { format: 'png', width: size.width, height: size.height, scale: 2 });
      const svg = wantSvg ? await P.toImage(spec, { format: 'svg', width: size.width, height: size.height }) : '';
      return { png, svg };
    },
    { fig, size, wantSvg: opts.svg !== false },
  );
  const png = Buffer.from(result.png.slice(result.png.indexOf(',') + 1), 'base64');
  const svg = result.svg ? deterministicSvg(decodeURIComponent(result.svg.slice(result.svg.indexOf(',') + 1))) : '';
  return { png, svg };
}

/**
 * Plotly names the SVG's clip paths and defs after a random per-plot id (`clip0a33d4xyplot`, `defs-0a33d4`);
 * replacing it with a fixed one makes the same figure the same file.
 */
export function deterministicSvg(svg: string): string {
  const uids = [...new Set(Array.from(svg.matchAll(/id="(?:clip|defs-|topdefs-)([0-9a-f]{6})/g), (m) => m[1]))];
  // Each id is 6 hex digits after a letter or '-' (never '#': colours stay) and before a non-hex suffix (x2y2plot).
  return uids.reduce((out, uid, i) => out.replace(new RegExp(`(?<=[a-z-])${uid}(?![0-9a-f])`, 'g'), `wl${i}`), svg);
}

/** Closes the shared browser (call at the end of a CLI command so the process can exit). */
export async function closeRenderer(): Promise<void> {
  if (!session) return;
  const s = session;
  session = null;
  try {
    await (await s).browser.close();
  } catch {
    // never opened
  }
}
