/**
 * Who may talk to the WebSocket server: the checks made on each upgrade request before a
 * connection is accepted.
 *
 * - Token: when the server has one, the request must carry it as `?token=`, as
 *   `Authorization: Bearer TOKEN` or as `X-Pcvm-Token: TOKEN`. Compared in constant time
 *   (both sides hashed first, so not even the length leaks).
 * - Host: a page on an attacker's domain can make that domain resolve to 127.0.0.1 (DNS
 *   rebinding) and then talk to us "same-origin"; the browser still sends the attacker's name
 *   in Host. So Host must name the bound address, or — for a loopback or wildcard bind —
 *   `localhost`, a loopback literal, an IP literal (wildcard) or this machine's host name.
 * - Origin: browsers send it on every WebSocket handshake; a page from another site must not
 *   drive the VM, so when present it must be http(s)://HOST:PORT with a HOST allowed above and
 *   our port. Non-browser clients send no Origin and are judged by Host and token alone.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import type { IncomingMessage } from 'node:http';

export interface AccessPolicy {
  /** The address the server is bound to (as given, e.g. '127.0.0.1', '::1', '0.0.0.0'). */
  readonly boundHost: string;
  readonly port: number;
  readonly token: string | undefined;
}

/** Why a request is refused (HTTP status and a short reason), or undefined when allowed. */
export interface Refusal {
  readonly status: number;
  readonly reason: string;
}

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h.startsWith('::ffff:')) return isLoopbackHost(h.slice(7));
  return false;
}

function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/** Constant-time comparison of two secrets of any length. */
export function tokensEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** Splits a Host header value (`name`, `name:port`, `[v6]:port`) into name and port. */
export function splitHostHeader(value: string): { name: string; port: number | undefined } | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::([0-9]{1,5}))?$/.exec(value.trim());
  if (!m) return undefined;
  const name = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
  return { name: name.toLowerCase(), port: m[2] === undefined ? undefined : Number(m[2]) };
}

function nameAllowed(name: string, policy: AccessPolicy): boolean {
  const bound = policy.boundHost.toLowerCase();
  if (name === bound) return true;
  if (isLoopbackHost(bound) || isWildcardHost(bound)) {
    if (isLoopbackHost(name)) return true;
  }
  if (isWildcardHost(bound)) {
    // Reachable under any of this machine's addresses; a rebinding attacker's name is a
    // domain, never an IP literal, and never our own host name.
    if (isIP(name) !== 0) return true;
    const own = hostname().toLowerCase();
    return name === own || name.startsWith(`${own}.`);
  }
  return false;
}

function hostPortAllowed(name: string, port: number | undefined, defaultPort: number, policy: AccessPolicy): boolean {
  return nameAllowed(name, policy) && (port ?? defaultPort) === policy.port;
}

/** The token a request carries, from the query, `Authorization: Bearer` or `X-Pcvm-Token`. */
export function requestToken(req: IncomingMessage, url: URL): string | undefined {
  const q = url.searchParams.get('token');
  if (q !== null) return q;
  const auth = req.headers.authorization;
  if (auth !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const x = req.headers['x-pcvm-token'];
  return typeof x === 'string' ? x : undefined;
}

/** Applies the Host, Origin and token checks to an upgrade request. */
export function checkAccess(req: IncomingMessage, url: URL, policy: AccessPolicy): Refusal | undefined {
  const host = req.headers.host === undefined ? undefined : splitHostHeader(req.headers.host);
  if (!host || !hostPortAllowed(host.name, host.port, 80, policy)) return { status: 403, reason: 'Host not allowed' };
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let o: URL | undefined;
    try {
      o = new URL(origin);
    } catch {
      o = undefined;
    }
    const ok = o !== undefined && (o.protocol === 'http:' || o.protocol === 'https:') && o.pathname === '/' &&
      hostPortAllowed(o.hostname.replace(/^\[|\]$/g, '').toLowerCase(), o.port === '' ? undefined : Number(o.port),
        o.protocol === 'https:' ? 443 : 80, policy);
    if (!ok) return { status: 403, reason: 'Origin not allowed' };
  }
  if (policy.token !== undefined) {
    const given = requestToken(req, url);
    if (given === undefined || !tokensEqual(given, policy.token)) return { status: 401, reason: 'token required' };
  }
  return undefined;
}
