/**
 * Character-device specs: the back ends behind `-serial`, `-monitor`, `-qmp`, `-gdb`,
 * `-parallel` and `-chardev`, parsed from QEMU's compat string syntax (`qemu_chr_parse_compat`)
 * or from a `-chardev BACKEND,...` option list (`qemu_chardev_opts`).
 */

import { ConfigError } from '../errors.js';
import {
  KeyValueList, checkKeys, invalidParameter, optBool, optNumber, parseKeyValueList, parseNumber, parseSize,
  type KeyValue,
} from './keyval.js';

/** Where a socket chardev listens or connects. */
export type SocketAddress =
  | { readonly type: 'inet'; readonly host: string; readonly port: number; readonly to?: number; readonly ipv4?: boolean; readonly ipv6?: boolean }
  | { readonly type: 'unix'; readonly path: string; readonly abstract: boolean }
  | { readonly type: 'fd'; readonly fd: string };

/** What every chardev spec carries. */
export interface ChardevCommon {
  /** `mon:` prefix / `mux=on`: the monitor shares the device (C-a c switches). */
  readonly mux: boolean;
  /** `logfile=`: a copy of everything the guest writes. */
  readonly logfile?: string;
  readonly logappend?: boolean;
}

/**
 * A character back end, as QEMU's `qemu_chr_parse_compat` (the `-serial` string syntax) or
 * `-chardev BACKEND,...` describes it. `none` means "no device here" (it still takes its
 * `-serial` slot: `-serial none -serial stdio` puts stdio on COM2, as QEMU 7.2 does).
 */
export type ChardevSpec = ChardevCommon &
  (
    | { readonly backend: 'none' }
    | { readonly backend: 'null' }
    /** `signal`: Ctrl-C reaches the host (off for `mon:stdio`, so the guest gets it). */
    | { readonly backend: 'stdio'; readonly signal: boolean }
    /** A virtual console of the UI (QEMU's default `vc:80Cx24C`). */
    | { readonly backend: 'vc'; readonly cols?: number; readonly rows?: number; readonly width?: number; readonly height?: number }
    | { readonly backend: 'pty' }
    | { readonly backend: 'file'; readonly path: string; readonly append: boolean }
    | { readonly backend: 'pipe'; readonly path: string }
    | {
        readonly backend: 'socket';
        readonly address: SocketAddress;
        /** Listen (true) or connect (false). */
        readonly server: boolean;
        /** A server waits for the first client before the guest starts. */
        readonly wait: boolean;
        readonly nodelay: boolean;
        readonly telnet: boolean;
        readonly websocket: boolean;
        /** Client reconnect interval, 0 = never. */
        readonly reconnectSec: number;
      }
    | { readonly backend: 'udp'; readonly host: string; readonly port: number; readonly localAddr: string; readonly localPort: number }
    /** A host tty or parallel port (`/dev/ttyS0`, `/dev/parport0`). */
    | { readonly backend: 'serial' | 'parallel'; readonly path: string }
    | { readonly backend: 'ringbuf'; readonly sizeBytes: number }
    | { readonly backend: 'msmouse' | 'wctablet' | 'braille' | 'testdev' | 'console' }
    /** `chardev:ID`: the device made by `-chardev ...,id=ID`. */
    | { readonly backend: 'chardev'; readonly id: string }
  );

/** `-chardev BACKEND,id=ID,...`. */
export type NamedChardevSpec = ChardevSpec & { readonly id: string };

export const CHARDEV_BACKENDS = [
  'null', 'socket', 'udp', 'msmouse', 'wctablet', 'vc', 'ringbuf', 'memory', 'file', 'pipe', 'pty',
  'stdio', 'braille', 'serial', 'tty', 'parallel', 'parport', 'testdev', 'console', 'spicevmc',
  'spiceport', 'qemu-vdagent', 'dbus',
] as const;

/** QEMU's `qemu_chardev_opts`: one key list shared by every back end. */
const CHARDEV_KEYS = [
  'backend', 'id', 'path', 'host', 'port', 'fd', 'localaddr', 'localport', 'to', 'ipv4', 'ipv6',
  'wait', 'server', 'delay', 'nodelay', 'reconnect', 'telnet', 'tn3270', 'tls-creds', 'tls-authz',
  'websocket', 'width', 'height', 'cols', 'rows', 'mux', 'signal', 'name', 'debug', 'size',
  'chardev', 'append', 'logfile', 'logappend', 'abstract', 'tight',
] as const;

/** Builds a spec from QemuOpts-style chardev options (`backend` already resolved). */
export function chardevFromOptions(backend: string, kv: KeyValueList): ChardevSpec {
  checkKeys(kv, CHARDEV_KEYS);
  const common = {
    mux: optBool(kv, 'mux', false),
    ...(kv.get('logfile') !== undefined ? { logfile: kv.get('logfile')! } : {}),
    ...(kv.has('logappend') ? { logappend: optBool(kv, 'logappend', false) } : {}),
  };
  const path = (): string => {
    const p = kv.get('path');
    if (p === undefined) throw new ConfigError(`chardev: ${backend}: no filename given`);
    return p;
  };
  switch (backend) {
    case 'null': case 'pty': case 'msmouse': case 'wctablet': case 'braille': case 'testdev': case 'console':
      return { ...common, backend };
    case 'stdio':
      return { ...common, backend, signal: optBool(kv, 'signal', true) };
    case 'vc': {
      const dims: { cols?: number; rows?: number; width?: number; height?: number } = {};
      for (const k of ['cols', 'rows', 'width', 'height'] as const) {
        const n = optNumber(kv, k);
        if (n !== undefined) dims[k] = n;
      }
      return { ...common, backend, ...dims };
    }
    case 'file':
      return { ...common, backend, path: path(), append: optBool(kv, 'append', false) };
    case 'pipe':
      return { ...common, backend, path: path() };
    case 'serial': case 'tty':
      return { ...common, backend: 'serial', path: path() };
    case 'parallel': case 'parport':
      return { ...common, backend: 'parallel', path: path() };
    case 'ringbuf': case 'memory': {
      const size = kv.get('size');
      const sizeBytes = size === undefined ? 65536 : parseSize('size', size);
      // QEMU: the ring buffer size must be a power of two.
      if (sizeBytes === 0 || (sizeBytes & (sizeBytes - 1)) !== 0) throw new ConfigError('size of ringbuf chardev must be power of two');
      return { ...common, backend: 'ringbuf', sizeBytes };
    }
    case 'udp': {
      const port = kv.get('port');
      if (port === undefined) throw new ConfigError('chardev: udp: remote port not specified');
      return {
        ...common, backend, host: kv.get('host') ?? 'localhost', port: parseNumber('port', port),
        localAddr: kv.get('localaddr') ?? '', localPort: optNumber(kv, 'localport') ?? 0,
      };
    }
    case 'socket': {
      let address: SocketAddress;
      const p = kv.get('path');
      const fd = kv.get('fd');
      if (p !== undefined) {
        address = { type: 'unix', path: p, abstract: optBool(kv, 'abstract', false) };
      } else if (fd !== undefined) {
        address = { type: 'fd', fd };
      } else {
        const host = kv.get('host');
        const port = kv.get('port');
        if (host === undefined) throw new ConfigError('chardev: socket: no host given');
        if (port === undefined) throw new ConfigError('chardev: socket: no port given');
        const portNum = parseNumber('port', port);
        if (portNum > 65535) throw new ConfigError(`Parameter 'port' expects a port number`);
        const to = optNumber(kv, 'to');
        address = {
          type: 'inet', host, port: portNum,
          ...(to !== undefined ? { to } : {}),
          ...(kv.has('ipv4') ? { ipv4: optBool(kv, 'ipv4', false) } : {}),
          ...(kv.has('ipv6') ? { ipv6: optBool(kv, 'ipv6', false) } : {}),
        };
      }
      const server = optBool(kv, 'server', false);
      if (!server && kv.has('wait')) throw new ConfigError("'wait' option is incompatible with socket in client connect mode");
      // QEMU has both `nodelay=on` and the old short form `nodelay` (which QemuOpts reads as delay=off).
      const nodelay = optBool(kv, 'nodelay', false) || !optBool(kv, 'delay', true);
      return {
        ...common, backend, address, server, wait: optBool(kv, 'wait', true), nodelay,
        telnet: optBool(kv, 'telnet', false), websocket: optBool(kv, 'websocket', false),
        reconnectSec: optNumber(kv, 'reconnect') ?? 0,
      };
    }
    default:
      // spicevmc, spiceport, qemu-vdagent, dbus: real QEMU back ends pcvm has no counterpart for.
      throw new ConfigError(`chardev backend '${backend}' is not supported yet`);
  }
}

/**
 * Parses the `-serial`/`-monitor`/`-qmp`/`-gdb` device string (QEMU's
 * `qemu_chr_parse_compat`): `stdio`, `null`, `none`, `vc[:WxH|:COLSCxROWSC]`, `pty`,
 * `file:PATH`, `pipe:PATH`, `tcp:[HOST]:PORT[,server=on,wait=off,nodelay=on,...]`,
 * `telnet:...`, `websocket:...`, `unix:PATH[,server=on,...]`, `udp:[HOST]:PORT[@[SRC]:SPORT]`,
 * `/dev/...`, `COMn`, `chardev:ID`, and the `mon:` prefix that muxes the monitor onto it.
 *
 * `what` names the consumer for the error QEMU prints when the string is malformed
 * (`could not connect serial device to character backend 'tcp:'`).
 */
export function parseChardevCompat(text: string, what = 'serial device'): ChardevSpec {
  let rest = text;
  let mux = false;
  let signal = true;
  if (rest.startsWith('mon:')) {
    rest = rest.slice(4);
    mux = true;
    // QEMU: a monitor muxed onto stdio passes Ctrl-C to the guest instead of exiting.
    if (rest === 'stdio') signal = false;
  }
  const malformed = (): ConfigError => new ConfigError(`could not connect ${what} to character backend '${text}'`);
  if (rest === 'none' && !mux) return { mux: false, backend: 'none' };
  if (rest === 'stdio') return { mux, backend: 'stdio', signal };
  if (['null', 'pty', 'msmouse', 'wctablet', 'braille', 'testdev'].includes(rest)) {
    return chardevWithMux(chardevFromOptions(rest, new KeyValueList([], false)), mux);
  }
  if (rest.startsWith('vc')) {
    const tail = rest.slice(2);
    // QEMU's strstart(filename, "vc"): anything not starting with ':' after "vc" is plain vc.
    if (!tail.startsWith(':')) return { mux, backend: 'vc' };
    const chars = /^:([0-9]{1,7})Cx([0-9]{1,7})C/.exec(tail);
    if (chars) return { mux, backend: 'vc', cols: Number(chars[1]), rows: Number(chars[2]) };
    const pixels = /^:([0-9]{1,7})x([0-9]{1,7})/.exec(tail);
    if (pixels) return { mux, backend: 'vc', width: Number(pixels[1]), height: Number(pixels[2]) };
    throw malformed();
  }
  if (rest === 'con:') return { mux, backend: 'console' };
  if (rest.startsWith('COM') || (rest.startsWith('/dev/') && !/^\/dev\/(parport|ppi)/.test(rest))) {
    return { mux, backend: 'serial', path: rest };
  }
  if (/^\/dev\/(parport|ppi)/.test(rest)) return { mux, backend: 'parallel', path: rest };
  if (rest.startsWith('file:')) return { mux, backend: 'file', path: rest.slice(5), append: false };
  if (rest.startsWith('pipe:')) return { mux, backend: 'pipe', path: rest.slice(5) };
  if (rest.startsWith('chardev:')) return { mux, backend: 'chardev', id: rest.slice(8) };
  const inet = /^(tcp|telnet|websocket):/.exec(rest);
  if (inet) {
    const body = rest.slice(inet[0].length);
    const comma = body.indexOf(',');
    const addr = comma < 0 ? body : body.slice(0, comma);
    const m = /^(\[[^\]]*\]|[^:]*):([^,]+)$/.exec(addr);
    if (!m) throw malformed();
    const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
    const entries: KeyValue[] = [{ key: 'host', value: host }, { key: 'port', value: m[2]! }];
    if (comma >= 0) entries.push(...parseKeyValueList(body.slice(comma + 1)).entries);
    if (inet[1] === 'telnet') entries.push({ key: 'telnet', value: 'on' });
    if (inet[1] === 'websocket') entries.push({ key: 'websocket', value: 'on' });
    return chardevWithMux(chardevFromOptions('socket', new KeyValueList(entries, false)), mux);
  }
  if (rest.startsWith('unix:')) {
    const kv = parseKeyValueList(rest.slice(5), 'path');
    if (kv.has('host') || kv.has('port')) throw new ConfigError(invalidParameter(kv.has('host') ? 'host' : 'port'));
    return chardevWithMux(chardevFromOptions('socket', kv), mux);
  }
  if (rest.startsWith('udp:')) {
    const m = /^udp:(\[[^\]]*\]|[^:@]*):([0-9]+)(?:@(\[[^\]]*\]|[^:]*):([0-9]+))?$/.exec(rest);
    if (!m) throw malformed();
    const unbracket = (s: string): string => (s.startsWith('[') ? s.slice(1, -1) : s);
    return {
      mux, backend: 'udp', host: unbracket(m[1]!) || 'localhost', port: Number(m[2]),
      localAddr: unbracket(m[3] ?? ''), localPort: Number(m[4] ?? 0),
    };
  }
  throw new ConfigError(`'${rest}' is not a valid char driver`);
}

function chardevWithMux(spec: ChardevSpec, mux: boolean): ChardevSpec {
  return mux ? { ...spec, mux } : spec;
}
