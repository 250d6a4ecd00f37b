import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { defaultMachineConfig, type MachineConfig } from '../../src/machine/config.js';
import { MemoryCharBackend } from '../../src/chardev/chardev.js';
import { NULL_LOGGER } from '../../src/machine/log.js';
import { romWithCode } from '../helpers/rom.js';

function machine(config: Partial<MachineConfig>, serial = new MemoryCharBackend()): Machine {
  return new Machine(defaultMachineConfig({ memoryBytes: 16 * 1024 * 1024, ...config }), { serial: [serial], log: NULL_LOGGER });
}

const DEBUG_EXIT = [{ iobase: 0xf4, iosize: 4 }];

/** Code that prints `text` on COM1 by polling LSR.THRE, then runs `tail`. */
function printThen(text: string, tail: number[]): number[] {
  const code: number[] = [];
  for (const ch of text) {
    // mov dx,0x3fd; wait: in al,dx; test al,0x20; jz wait; mov dx,0x3f8; mov al,ch; out dx,al
    code.push(0xba, 0xfd, 0x03, 0xec, 0xa8, 0x20, 0x74, 0xfb, 0xba, 0xf8, 0x03, 0xb0, ch.charCodeAt(0), 0xee);
  }
  return [...code, ...tail];
}

describe('Machine', () => {
  it('runs from the reset vector: mov al,0x10; out 0xf4,al exits with status 33 (isa-debug-exit)', async () => {
    const rom = new Uint8Array(0x10000);
    rom.set([0xb0, 0x10, 0xe6, 0xf4, 0xf4], 0xfff0);
    const m = machine({ bios: rom, debugExits: DEBUG_EXIT });
    m.start();
    expect(await m.waitForExit()).toBe(33);
  });

  it('guest power-off through the ACPI PM1 control register ends the VM with status 0', async () => {
    // mov dx,0x604; mov ax,0x2000 (SLP_EN, SLP_TYP=0 → S5); out dx,ax
    const m = machine({ bios: romWithCode([0xba, 0x04, 0x06, 0xb8, 0x00, 0x20, 0xef, 0xeb, 0xfe]) });
    const reasons: string[] = [];
    m.on('exit', (_s, reason) => reasons.push(reason));
    m.start();
    expect(await m.waitForExit()).toBe(0);
    expect(reasons).toEqual(['guest power-off']);
  });

  it('a write of 6 to port 0xCF9 resets the machine; with -no-reboot it ends the VM instead', async () => {
    // inc byte [0x500] (RAM survives reset); cmp byte [0x500],2; je exit; mov dx,0xcf9; mov al,6; out dx,al
    // exit: mov al,[0x500]; out 0xf4,al
    const code = [
      0x31, 0xc0, 0x8e, 0xd8, // xor ax,ax; mov ds,ax
      0xfe, 0x06, 0x00, 0x05, // inc byte [0x500]
      0x80, 0x3e, 0x00, 0x05, 0x02, // cmp byte [0x500],2
      0x74, 0x06, // je +6
      0xba, 0xf9, 0x0c, 0xb0, 0x06, 0xee, // mov dx,0xcf9; mov al,6; out dx,al
      0xa0, 0x00, 0x05, 0xe6, 0xf4, 0xf4, // mov al,[0x500]; out 0xf4,al; hlt
    ];
    const m = machine({ bios: romWithCode(code), debugExits: DEBUG_EXIT });
    let resets = 0;
    m.on('reset', () => resets++);
    m.start();
    expect(await m.waitForExit()).toBe((2 << 1) | 1);
    expect(resets).toBe(1);

    const noReboot = machine({ bios: romWithCode(code), debugExits: DEBUG_EXIT, noReboot: true });
    noReboot.start();
    expect(await noReboot.waitForExit()).toBe(0);
  });

  it('a reset re-enables the A20 gate that the guest disabled through port 0x92', async () => {
    // First boot: in al,0x92; and al,0xfd (A20 off); out 0x92,al; then write 6 to 0xCF9.
    // Second boot ([0x500] already 1): exit with the byte at 1 MiB + 0x10 seen through the
    // wrap, which is only the byte at 0x10 when A20 is masked.
    const rom = romWithCode([
      0x31, 0xc0, 0x8e, 0xd8, // xor ax,ax; mov ds,ax
      0xc6, 0x06, 0x10, 0x00, 0x11, // mov byte [0x10],0x11
      0x80, 0x3e, 0x00, 0x05, 0x01, // cmp byte [0x500],1
      0x74, 0x12, // je second (+18)
      0xc6, 0x06, 0x00, 0x05, 0x01, // mov byte [0x500],1
      0xe4, 0x92, 0x24, 0xfd, 0xe6, 0x92, // in al,0x92; and al,0xfd; out 0x92,al (A20 off)
      0xba, 0xf9, 0x0c, 0xb0, 0x06, 0xee, 0xf4, // mov dx,0xcf9; mov al,6; out dx,al; hlt
      // second: mov ax,0xffff; mov es,ax; mov al,[es:0x20] (linear 0x100010); out 0xf4,al
      0xb8, 0xff, 0xff, 0x8e, 0xc0, 0x26, 0xa0, 0x20, 0x00, 0xe6, 0xf4, 0xf4,
    ]);
    const m = machine({ bios: rom, debugExits: DEBUG_EXIT });
    m.start();
    // With A20 on, 0x100010 is fresh RAM (0); masked, it would alias 0x10 (0x11).
    expect(await m.waitForExit()).toBe(1);
    expect(m.cpu.s.a20).toBe(true);
  });

  it('prints on COM1 through the UART and the character back end', async () => {
    const out = new MemoryCharBackend();
    const m = machine({ bios: romWithCode(printThen('hi!', [0xb0, 0x00, 0xe6, 0xf4])), debugExits: DEBUG_EXIT }, out);
    m.start();
    expect(await m.waitForExit()).toBe(1);
    expect(out.text()).toBe('hi!');
  });

  it('-S starts paused (prelaunch) until cont', async () => {
    const rom = new Uint8Array(0x10000);
    rom.set([0xb0, 0x01, 0xe6, 0xf4, 0xf4], 0xfff0);
    const m = machine({ bios: rom, debugExits: DEBUG_EXIT, startStopped: true });
    m.start();
    await new Promise((r) => setTimeout(r, 20));
    expect(m.status()).toEqual({ running: false, state: 'prelaunch' });
    expect(m.cpu.retired).toBe(0);
    m.cont();
    expect(await m.waitForExit()).toBe(3);
  });

  it('stop freezes the guest and its virtual time; cont resumes it', async () => {
    const m = machine({ bios: romWithCode([0xeb, 0xfe]) }); // jmp $
    m.start();
    await new Promise((r) => setTimeout(r, 30));
    m.stop();
    const retired = m.cpu.retired;
    const t = m.clock.nowNs();
    expect(retired).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 30));
    expect(m.cpu.retired).toBe(retired);
    expect(m.clock.nowNs()).toBe(t);
    expect(m.status().state).toBe('paused');
    m.cont();
    await new Promise((r) => setTimeout(r, 30));
    expect(m.cpu.retired).toBeGreaterThan(retired);
    m.quit();
    expect(await m.waitForExit()).toBe(0);
  });

  it('two Machines run concurrently in one process without interfering', async () => {
    const outA = new MemoryCharBackend();
    const outB = new MemoryCharBackend();
    // Each prints its own text many times, then exits with its own status.
    const loop = (text: string, status: number) => {
      const body = printThen(text, []);
      // mov cx,50; body; loop body; mov al,status; out 0xf4,al
      const code = [0xb9, 50, 0x00, ...body];
      const back = -(body.length + 2);
      code.push(0xe2, back & 0xff, 0xb0, status, 0xe6, 0xf4, 0xf4);
      return code;
    };
    const a = machine({ bios: romWithCode(loop('A', 5)), debugExits: DEBUG_EXIT }, outA);
    const b = machine({ bios: romWithCode(loop('B', 6)), debugExits: DEBUG_EXIT }, outB);
    a.start();
    b.start();
    const [sa, sb] = await Promise.all([a.waitForExit(), b.waitForExit()]);
    expect(sa).toBe(11);
    expect(sb).toBe(13);
    expect(outA.text()).toBe('A'.repeat(50));
    expect(outB.text()).toBe('B'.repeat(50));
  });
});
