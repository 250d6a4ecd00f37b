/**
 * The upgrade-request checks on their own: Host (DNS rebinding), Origin and token, for
 * loopback, IPv6 and wildcard binds.
 */
import type { IncomingMessage } from 'node:http';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { checkAccess, isLoopbackHost, splitHostHeader, tokensEqual, type AccessPolicy } from '../../src/server/websocket-access.js';

function req(headers: Record<string, string>, path = '/monitor') {
  const r = { headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])) } as unknown as IncomingMessage;
  return checkAccessWith(r, path);
}
let policy: AccessPolicy;
function checkAccessWith(r: IncomingMessage, path: string) {
  return checkAccess(r, new URL(path, 'http://x'), policy)?.status ?? 'ok';
}

describe('WebSocket access checks', () => {
  it('knows loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1']) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'example.com', '::ffff:10.0.0.1']) expect(isLoopbackHost(h)).toBe(false);
  });

  it('splits Host headers, IPv6 brackets included, and rejects junk', () => {
    expect(splitHostHeader('Example.COM:8080')).toEqual({ name: 'example.com', port: 8080 });
    expect(splitHostHeader('[::1]:9')).toEqual({ name: '::1', port: 9 });
    expect(splitHostHeader('host')).toEqual({ name: 'host', port: undefined });
    expect(splitHostHeader('a:b:c')).toBeUndefined();
    expect(splitHostHeader('')).toBeUndefined();
  });

  it('compares tokens of any length', () => {
    expect(tokensEqual('abc', 'abc')).toBe(true);
    expect(tokensEqual('abc', 'abcd')).toBe(false);
    expect(tokensEqual('', 'abc')).toBe(false);
  });

  it('on a loopback bind admits loopback names on our port only', () => {
    policy = { boundHost: '127.0.0.1', port: 5000, token: undefined };
    expect(req({ host: '127.0.0.1:5000' })).toBe('ok');
    expect(req({ host: 'localhost:5000' })).toBe('ok');
    expect(req({ host: '[::1]:5000' })).toBe('ok');
    expect(req({ host: 'localhost:5001' })).toBe(403);
    expect(req({ host: 'localhost' })).toBe(403); // port 80 implied
    expect(req({ host: 'rebind.attacker.example:5000' })).toBe(403);
    expect(req({ host: '192.168.1.5:5000' })).toBe(403);
    expect(req({})).toBe(403);
    expect(req({ host: 'localhost:5000', origin: 'http://localhost:5000' })).toBe('ok');
    expect(req({ host: 'localhost:5000', origin: 'https://127.0.0.1:5000' })).toBe('ok');
    expect(req({ host: 'localhost:5000', origin: 'http://rebind.attacker.example:5000' })).toBe(403);
    expect(req({ host: 'localhost:5000', origin: 'file://' })).toBe(403);
    expect(req({ host: 'localhost:5000', origin: 'chrome-extension://abc' })).toBe(403);
  });

  it('on a wildcard bind (token required) admits IP literals and our host name, not other domains', () => {
    policy = { boundHost: '0.0.0.0', port: 80, token: 'tok' };
    expect(req({ host: '10.1.2.3', authorization: 'Bearer tok' })).toBe('ok');
    expect(req({ host: `${hostname()}:80`, 'x-pcvm-token': 'tok' })).toBe('ok');
    expect(req({ host: 'evil.example', authorization: 'Bearer tok' })).toBe(403);
    expect(req({ host: '10.1.2.3' })).toBe(401);
    expect(req({ host: '10.1.2.3', authorization: 'Basic dG9r' })).toBe(401);
    expect(req({ host: '10.1.2.3' }, '/serial?token=tok')).toBe('ok');
    expect(req({ host: '10.1.2.3' }, '/serial?token=tok2')).toBe(401);
  });

  it('on a specific address admits only that address', () => {
    policy = { boundHost: '192.168.7.2', port: 7000, token: 't' };
    expect(req({ host: '192.168.7.2:7000' }, '/qmp?token=t')).toBe('ok');
    expect(req({ host: '192.168.7.3:7000' }, '/qmp?token=t')).toBe(403);
    expect(req({ host: 'localhost:7000' }, '/qmp?token=t')).toBe(403);
  });
});
