/**
 * The web console page at `/` of the -websocket server: its files and their access checks
 * over plain HTTP, and the page itself in headless Chromium (Debian's, driven by
 * playwright-core): typing into the COM1 terminal runs a guest command, the monitor prompt
 * answers `info status`, and a page opened without the token is refused by the endpoints.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { Machine } from '../../src/machine/machine.js';
import { defaultMachineConfig } from '../../src/machine/config.js';
import { MemoryCharBackend } from '../../src/chardev/chardev.js';
import { TeeCharBackend } from '../../src/chardev/tee.js';
import { NULL_LOGGER } from '../../src/machine/log.js';
import { PcvmWebSocketServer } from '../../src/server/websocket-server.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 's3cret-token';
let machine: Machine | undefined;
let server: PcvmWebSocketServer | undefined;

afterEach(() => {
  server?.close();
  server = undefined;
  machine?.close();
  machine = undefined;
});

async function until(cond: () => boolean, what: () => string, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out: ${what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function start(): Promise<{ com1: MemoryCharBackend; port: number }> {
  const com1 = new MemoryCharBackend();
  const tee = new TeeCharBackend(com1);
  machine = new Machine(defaultMachineConfig({ memoryBytes: 32 << 20 }), { serial: [tee], log: NULL_LOGGER });
  server = await PcvmWebSocketServer.open(machine, tee, { port: 0, token: TOKEN });
  machine.start();
  await until(() => com1.text().includes('pcvm> '), () => com1.text());
  return { com1, port: server.port };
}

interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('web console files over HTTP', () => {
  it('serves the page, its script and xterm.js with a same-origin CSP; other paths are 404 or 426', async () => {
    const { port } = await start();
    const page = await get(port, '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('<script type="module" src="console.js"></script>');
    expect(page.headers['content-security-policy']).toContain("connect-src 'self'");
    expect(page.headers['x-frame-options']).toBe('DENY');
    const script = await get(port, '/console.js');
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.body).toContain("from './assets/xterm.mjs'");
    const xterm = await get(port, '/assets/xterm.mjs');
    expect(xterm.status).toBe(200);
    expect(xterm.body).toMatch(/export\s*\{[^}]*Terminal/);
    expect((await get(port, '/assets/xterm.css')).status).toBe(200);
    expect((await get(port, '/', {}, 'HEAD')).body).toBe('');
    expect((await get(port, '/', {}, 'POST')).status).toBe(405);
    expect((await get(port, '/../package.json')).status).toBe(404);
    expect((await get(port, '/web/console/index.html')).status).toBe(404);
    expect((await get(port, '/monitor')).status).toBe(426);
  });

  it('refuses a foreign Host or Origin (DNS rebinding) for the page too', async () => {
    const { port } = await start();
    expect((await get(port, '/', { Host: `attacker.example:${port}` })).status).toBe(403);
    expect((await get(port, '/console.js', { Origin: 'http://attacker.example' })).status).toBe(403);
    expect((await get(port, '/', { Host: `localhost:${port}` })).status).toBe(200);
  });
});

describe.skipIf(!existsSync(CHROMIUM))('web console page in headless Chromium', () => {
  let profile: string;
  let context: BrowserContext;

  beforeAll(async () => {
    profile = mkdtempSync(join(tmpdir(), 'pcvm-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    rmSync(profile, { recursive: true, force: true });
  });

  /**
   * The terminal's rows, one string each (blank rows kept: innerText would drop them), with
   * the no-break spaces xterm.js's DOM renderer draws for spaces made plain.
   */
  const consoleRows = (page: Page) => page.locator('#serial .xterm-rows > div')
    .evaluateAll((rows) => rows.map((r) => (r.textContent ?? '').replace(/\u00a0/g, ' ').trimEnd()));

  it('types a command into the COM1 terminal and reads its output; the monitor prompt answers info status', async () => {
    const { com1, port } = await start();
    const page = await context.newPage();
    try {
      await page.goto(`http://127.0.0.1:${port}/?token=${TOKEN}`);
      await page.locator('#serial-state', { hasText: 'serial: connected' }).waitFor();
      await page.locator('#monitor-state', { hasText: 'monitor: connected' }).waitFor();
      // The guest printed its prompt before the page connected: Enter asks for a fresh one.
      await page.locator('#serial .xterm').click();
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => /pcvm>/.test(document.querySelector('#serial .xterm-rows')?.textContent ?? ''));
      await page.keyboard.type('echo typed-in-chromium');
      await page.keyboard.press('Enter');
      // The guest's answer, on its own line of the terminal, after the echoed command line.
      await until(() => com1.text().includes('typed-in-chromium\r\npcvm> '), () => com1.text());
      // The page gets those bytes over /serial some time after the guest wrote them, and xterm.js
      // draws them on a later animation frame: under load the command line can be on screen
      // while the row after it is still blank. Wait until that row has text, then check it.
      await page.waitForFunction(() => {
        const rows = [...document.querySelectorAll('#serial .xterm-rows > div')].map((r) => (r.textContent ?? '').trim());
        const cmd = rows.findIndex((r) => r.replace(/\u00a0/g, ' ') === 'pcvm> echo typed-in-chromium');
        return cmd >= 0 && (rows[cmd + 1] ?? '') !== '';
      });
      const lines = await consoleRows(page);
      const cmd = lines.findIndex((l) => l === 'pcvm> echo typed-in-chromium');
      expect(cmd, lines.join('\n')).toBeGreaterThanOrEqual(0);
      expect(lines[cmd + 1], lines.join('\n')).toBe('typed-in-chromium');

      await page.locator('#monitor-input').fill('info status');
      await page.locator('#monitor-input').press('Enter');
      await page.locator('#monitor-output', { hasText: 'VM status: running' }).waitFor();
      await page.locator('#monitor-input').fill('stop');
      await page.locator('#monitor-input').press('Enter');
      await until(() => machine!.runState === 'paused', () => machine!.runState);
      // The input keeps a history on the arrow keys.
      await page.locator('#monitor-input').press('ArrowUp');
      expect(await page.locator('#monitor-input').inputValue()).toBe('stop');
      await page.locator('#monitor-input').press('ArrowUp');
      expect(await page.locator('#monitor-input').inputValue()).toBe('info status');
      await page.locator('#monitor-input').press('Enter');
      await page.locator('#monitor-output', { hasText: 'VM status: paused' }).waitFor();
      if (process.env.PCVM_WEB_SCREENSHOT) await page.screenshot({ path: process.env.PCVM_WEB_SCREENSHOT });
    } finally {
      await page.close();
    }
  }, 60_000);

  it('without the token, the page loads but both endpoints refuse it', async () => {
    const { port } = await start();
    const page = await context.newPage();
    try {
      await page.goto(`http://127.0.0.1:${port}/?token=wrong`);
      await page.locator('#serial-state.down').waitFor();
      await page.locator('#monitor-state.down').waitFor();
      expect(server!.connectionCount).toBe(0);
    } finally {
      await page.close();
    }
  }, 60_000);
});
