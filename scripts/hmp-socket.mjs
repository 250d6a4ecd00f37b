// A client for an HMP monitor on a unix socket (`-monitor unix:PATH,server,nowait`), the same
// for pcvm and QEMU: it waits for the `(qemu) ` prompt, sends one command line at a time and
// returns what the monitor printed before the next prompt. Shared by the guest tests that drive
// savevm/loadvm on a real guest and by comparisons against QEMU.
import { connect } from 'node:net';

const PROMPT = '(qemu) ';

/** Strips the terminal escapes QEMU's readline echoes (cursor moves, erase to end of line). */
function plain(text) {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').replace(/\r/g, '');
}

/**
 * Connects to the monitor at `path`, retrying until it listens (until `timeoutMs`), and resolves
 * once the banner's prompt has arrived. Returns { command(line, timeoutMs) → output, close() }.
 */
export async function openHmpSocket(path, timeoutMs = 60_000) {
  const deadline = performance.now() + timeoutMs;
  let sock;
  for (;;) {
    try {
      sock = await new Promise((resolve, reject) => {
        const s = connect(path, () => resolve(s));
        s.once('error', reject);
      });
      break;
    } catch (e) {
      if (performance.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  let buf = '';
  let waiter;
  let closed = false;
  sock.on('data', (d) => {
    buf += d.toString('latin1');
    waiter?.();
  });
  sock.on('close', () => {
    closed = true;
    waiter?.();
  });
  sock.on('error', () => {});
  /** Resolves with the text before the next prompt (consuming it and the prompt). */
  const untilPrompt = (ms) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      waiter = undefined;
      reject(new Error(`no HMP prompt within ${ms} ms; got: ${JSON.stringify(plain(buf))}`));
    }, ms);
    waiter = () => {
      const i = buf.indexOf(PROMPT);
      if (i >= 0) {
        clearTimeout(timer);
        waiter = undefined;
        const out = buf.slice(0, i);
        buf = buf.slice(i + PROMPT.length);
        resolve(out);
      } else if (closed) {
        clearTimeout(timer);
        waiter = undefined;
        resolve(buf);
      }
    };
    waiter();
  });
  await untilPrompt(Math.max(1000, deadline - performance.now()));
  return {
    /** Runs `line`; resolves with its output (the echoed command line removed), trimmed. */
    async command(line, ms = 600_000) {
      sock.write(line + '\n');
      const out = plain(await untilPrompt(ms));
      const nl = out.indexOf('\n');
      return (nl >= 0 ? out.slice(nl + 1) : '').trim();
    },
    /** Sends `line` without waiting for an answer (quit, or a command to be interrupted). */
    send(line) {
      sock.write(line + '\n');
    },
    close() {
      sock.destroy();
    },
  };
}
