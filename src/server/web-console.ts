/**
 * The web console page the WebSocket server serves at `/`: COM1 in an xterm.js terminal
 * (over /serial) and an HMP prompt (over /monitor). The page and its script are in
 * web/console/; xterm.js comes from the `@xterm/xterm` package as its ES module build, so
 * there is no bundling step.
 *
 * The files hold nothing secret and are served without the token (the WebSocket endpoints
 * that drive the VM require it; the page passes on the token it was opened with); the Host
 * and Origin checks still apply, so a rebinding attacker's page cannot load them either.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { packageRoot } from '../machine/default-firmware.js';

interface Asset {
  /** Where the file is, resolved on first use. */
  path(): string;
  type: string;
}

const require = createRequire(import.meta.url);
const page = (name: string) => () => join(packageRoot(), 'web', 'console', name);

const ASSETS: Record<string, Asset> = {
  '/': { path: page('index.html'), type: 'text/html; charset=utf-8' },
  '/console.js': { path: page('console.js'), type: 'text/javascript; charset=utf-8' },
  '/console.css': { path: page('console.css'), type: 'text/css; charset=utf-8' },
  '/assets/xterm.mjs': { path: () => require.resolve('@xterm/xterm/lib/xterm.mjs'), type: 'text/javascript; charset=utf-8' },
  '/assets/xterm.css': { path: () => require.resolve('@xterm/xterm/css/xterm.css'), type: 'text/css; charset=utf-8' },
};

/** Same-origin only: scripts, styles and sockets from this server; no framing (clickjacking). */
const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

export class WebConsoleFiles {
  private readonly cache = new Map<string, Buffer>();

  /** Whether `pathname` is one of the page's files. */
  has(pathname: string): boolean {
    return Object.hasOwn(ASSETS, pathname);
  }

  /** Answers a GET or HEAD for one of the page's files. */
  serve(pathname: string, method: string, res: ServerResponse): void {
    const asset = ASSETS[pathname]!;
    let body = this.cache.get(pathname);
    if (!body) {
      try {
        body = readFileSync(asset.path());
      } catch (e) {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(`web console file missing: ${(e as Error).message}\n`);
        return;
      }
      this.cache.set(pathname, body);
    }
    res.writeHead(200, { 'Content-Type': asset.type, 'Content-Length': body.length, ...SECURITY_HEADERS });
    res.end(method === 'HEAD' ? undefined : body);
  }
}
