/**
 * The gdbstub's protocol over a real machine running the multiboot test kernel
 * (firmware/multiboot-test/mbtest.elf, stopped at its entry with -S). Expected values come
 * from outside the stub: the multiboot specification (EAX = 0x2BADB002 at entry), the ELF
 * file's entry point and bytes, and the instructions at known addresses as ndisasm lists them:
 *   100060 mov [0x100778],eax   100065 mov [0x10077c],ebx   10006b mov esp,0x101798
 *   100070 pushf                100071 pop dword [0x100780]  100077 mov esi,0x1004f4
 *   10007c call 0x1004d0        100081 cmp dword [0x100778],0x2badb002   10008b call …
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Machine } from '../../src/library/machine.js';
import { GdbTestClient, le32 } from './gdb-client.js';

const KERNEL = new URL('../../firmware/multiboot-test/mbtest.elf', import.meta.url).pathname;
const ELF = readFileSync(KERNEL);
const ENTRY = ELF.readUInt32LE(24);
/** File offset of linear address a (the kernel's one PT_LOAD maps the file 1:1 at 1 MiB). */
const fileBytes = (a: number, n: number) => ELF.subarray(a - 0x100000, a - 0x100000 + n).toString('hex');

const machines: Machine[] = [];
afterEach(async () => {
  for (const m of machines.splice(0)) await m.close();
});

function kernelMachine(): Machine {
  const m = new Machine({ kernel: KERNEL, startStopped: true, devices: ['isa-debug-exit,iobase=0xf4,iosize=0x04'] });
  machines.push(m);
  return m;
}

/** Register i of a `g` reply in the i386 layout (32-bit registers first). */
const reg32 = (g: string, i: number) => Buffer.from(g.slice(8 * i, 8 * i + 8), 'hex').readUInt32LE();
const EAX = 0, EBX = 3, EIP = 8;

describe('gdbstub protocol', () => {
  it('announces its features and an i386 target description whose registers fill the g packet', async () => {
    const m = kernelMachine();
    await m.start();
    const gdb = new GdbTestClient(m.board);
    const sup = await gdb.ask('qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+');
    expect(sup.split(';')).toEqual(expect.arrayContaining(['qXfer:features:read+', 'QStartNoAckMode+', 'swbreak+', 'hwbreak+', 'vContSupported+']));
    let xml = '';
    for (;;) {
      const part = await gdb.ask(`qXfer:features:read:target.xml:${xml.length.toString(16)},200`);
      xml += part.slice(1);
      if (part[0] === 'l') break;
      expect(part[0]).toBe('m');
    }
    expect(xml).toContain('<architecture>i386</architecture>');
    expect(xml).toContain('<feature name="org.gnu.gdb.i386.core">');
    expect(xml).toContain('<feature name="org.gnu.gdb.i386.sse">');
    const bits = [...xml.matchAll(/<reg name="[^"]+" bitsize="(\d+)"/g)].reduce((s, r) => s + Number(r[1]), 0);
    const g = await gdb.ask('g');
    expect(g.length).toBe(bits / 4);
    expect(await gdb.ask('qAttached')).toBe('1');
    expect(await gdb.ask('qC')).toBe('QC1');
    expect(await gdb.ask('qfThreadInfo')).toBe('m1');
    expect(await gdb.ask('qsThreadInfo')).toBe('l');
    expect(await gdb.ask('vCont?')).toBe('vCont;c;C;s;S');
    expect(await gdb.ask('?')).toBe('T02thread:01;');
    expect(await gdb.ask('qXfer:features:read:other.xml:0,100')).toBe('E00');
    expect(await gdb.ask('vMustReplyEmpty')).toBe('');
  });

  it('reads the multiboot entry state and memory, writes registers and memory', async () => {
    const m = kernelMachine();
    await m.start();
    const gdb = new GdbTestClient(m.board);
    const g = await gdb.ask('g');
    expect(reg32(g, EIP)).toBe(ENTRY);
    expect(reg32(g, EAX)).toBe(0x2badb002);
    expect(await gdb.ask('p8')).toBe(le32(ENTRY));
    expect(await gdb.ask(`m${ENTRY.toString(16)},10`)).toBe(fileBytes(ENTRY, 16));
    // Unassigned physical memory (paging is off: linear = physical) is an error, not zeros.
    expect(await gdb.ask('mf0000000,4')).toBe('E14');
    // P and M, read back through p and m.
    expect(await gdb.ask(`P3=${le32(0x12345678)}`)).toBe('OK');
    expect(reg32(await gdb.ask('g'), EBX)).toBe(0x12345678);
    expect(m.board.cpu.s.gpr[3]).toBe(0x12345678);
    expect(await gdb.ask('M200000,4:deadbeef')).toBe('OK');
    expect(await gdb.ask('m200000,4')).toBe('deadbeef');
    expect(await gdb.ask('Mf0000000,1:00')).toBe('E14');
    // X: binary data with the protocol's escapes ('}' + byte ^ 0x20 for '#', '$', '}' and '*').
    expect(await gdb.ask('X200004,5:\x01}\x03}\x04*')).toBe('E22'); // 5 declared, 4 given
    expect(await gdb.ask('X200004,4:\x01}\x03}\x04*')).toBe('OK');
    expect(await gdb.ask('m200004,4')).toBe('0123242a');
    // G writes the whole file back; an unchanged selector in protected mode passes.
    const g2 = await gdb.ask('g');
    expect(await gdb.ask('G' + g2)).toBe('OK');
    // Changing CS in protected mode would need a descriptor load: refused, nothing written.
    const cs = 10;
    const badG = g2.slice(0, 8 * cs) + le32(0x18) + g2.slice(8 * cs + 8);
    expect(await gdb.ask('G' + badG)).toBe('E22');
    expect(m.board.cpu.s.segSel[1]).toBe(8);
  });

  it('stops at a software breakpoint without writing it into memory, steps, and reports watchpoints', async () => {
    const m = kernelMachine();
    await m.start();
    const gdb = new GdbTestClient(m.board);
    await gdb.ask('qSupported:swbreak+;hwbreak+');
    expect(await gdb.ask('Z0,100070,1')).toBe('OK');
    expect(await gdb.ask('m100070,1')).toBe('9c'); // still PUSHF: nothing was patched in
    expect(await gdb.ask('vCont;c')).toBe('T05swbreak:;thread:01;');
    expect(reg32(await gdb.ask('g'), EIP)).toBe(0x100070);
    expect(m.runState).toBe('paused');
    // A single step executes PUSHF only.
    expect(await gdb.ask('vCont;s:1')).toBe('T05thread:01;');
    expect(reg32(await gdb.ask('g'), EIP)).toBe(0x100071);
    expect(await gdb.ask('s')).toBe('T05thread:01;');
    expect(reg32(await gdb.ask('g'), EIP)).toBe(0x100077);
    expect(await gdb.ask('z0,100070,1')).toBe('OK');
    // A write watchpoint on saved_eax's neighbour saved_eflags already passed; watch the
    // read of saved_eax by the CMP at 100081: reported after it, at 10008b.
    expect(await gdb.ask('Z3,100778,4')).toBe('OK');
    expect(await gdb.ask('c')).toBe('T05rwatch:100778;thread:01;');
    expect(reg32(await gdb.ask('g'), EIP)).toBe(0x10008b);
    expect(await gdb.ask('z3,100778,4')).toBe('OK');
    // A hardware breakpoint is reported as one.
    expect(await gdb.ask('Z1,100090,1')).toBe('OK');
    expect(await gdb.ask('c')).toBe('T05hwbreak:;thread:01;');
    expect(reg32(await gdb.ask('g'), EIP)).toBe(0x100090);
    expect(await gdb.ask('z1,100090,1')).toBe('OK');
    // Only four hardware breakpoints, as DR0-DR3.
    for (const a of ['1', '2', '3', '4']) expect(await gdb.ask(`Z1,20000${a},1`)).toBe('OK');
    expect(await gdb.ask('Z1,200005,1')).toBe('E22');
  });

  it('reports a write watchpoint after the writing instruction, with its address', async () => {
    const m = kernelMachine();
    await m.start();
    const gdb = new GdbTestClient(m.board);
    // POP DWORD [0x100780] at 100071 writes saved_eflags.
    expect(await gdb.ask('Z2,100780,4')).toBe('OK');
    expect(await gdb.ask('c')).toBe('T05watch:100780;thread:01;');
    expect(reg32(await gdb.ask('g'), EIP)).toBe(0x100077);
    // The value written is EFLAGS as PUSHF saw it at entry (multiboot: IF = 0; bit 1 set).
    expect(await gdb.ask('m100780,4')).toBe(le32(0x2));
  });

  it('detach removes breakpoints and lets the guest run to its exit; the W packet carries the status', async () => {
    const m = kernelMachine();
    await m.start();
    const gdb = new GdbTestClient(m.board);
    expect(await gdb.ask('Z0,100070,1')).toBe('OK');
    expect(await gdb.ask('D')).toBe('OK');
    const status = await m.exitStatus;
    // The kernel reports its failed checks (no modules here) through isa-debug-exit: odd status.
    expect(status & 1).toBe(1);
  });

  it('no-ack mode, a damaged packet, kill', async () => {
    const m = kernelMachine();
    await m.start();
    const gdb = new GdbTestClient(m.board);
    gdb.sendRaw('$g#00');
    await new Promise((r) => setImmediate(r));
    expect(gdb.raw).toBe('-');
    gdb.raw = '';
    expect(await gdb.ask('QStartNoAckMode')).toBe('OK');
    gdb.noAck = true;
    gdb.raw = '';
    (gdb as unknown as { pos: number }).pos = 0;
    const pc = await gdb.ask('p8');
    expect(pc).toBe(le32(ENTRY));
    expect(gdb.raw.startsWith('$')).toBe(true);
    gdb.send('k');
    expect(await m.exitStatus).toBe(0);
  });
});

describe('gdbstub on the demo firmware (real mode, idle loop)', () => {
  it('Ctrl-C stops a running guest with SIGINT; the monitor runs through qRcmd', async () => {
    const m = new Machine({});
    machines.push(m);
    await m.start();
    await m.waitForSerial('pcvm> ');
    const gdb = new GdbTestClient(m.board);
    expect(m.runState).toBe('paused'); // attaching stops the VM, as in QEMU
    gdb.send('c');
    await new Promise((r) => setTimeout(r, 50));
    expect(m.runState).toBe('running');
    gdb.sendRaw('\x03');
    expect(await gdb.next()).toBe('T02thread:01;');
    expect(m.runState).toBe('paused');
    gdb.send(`qRcmd,${Buffer.from('info status').toString('hex')}`);
    expect(Buffer.from((await gdb.next()).slice(1), 'hex').toString()).toBe('VM status: paused\n');
    expect(await gdb.next()).toBe('OK');
    // Real mode: a selector write sets the base to selector * 16.
    const ds = 12;
    const g = await gdb.ask('g');
    expect(await gdb.ask('G' + g.slice(0, 8 * ds) + le32(0x1234) + g.slice(8 * ds + 8))).toBe('OK');
    expect(m.board.cpu.s.segBase[3]).toBe(0x12340);
  });
});

describe('gdbstub in long mode', () => {
  it('announces x86-64 when the CPU is in IA-32e mode and reports the 64-bit RIP', async () => {
    const m = kernelMachine();
    const cpu = m.board.cpu;
    // IA-32e mode by hand (EFER.LME|LMA, CR0.PG|PE, CR4.PAE, CS.L): only the mode matters here.
    cpu.s.efer |= 0x500;
    cpu.s.cr0 |= 0x80000001;
    cpu.s.cr4 |= 0x20;
    cpu.s.segAr[1] = (cpu.s.segAr[1]! | 0x2000) & ~0x4000;
    cpu.updateMode();
    cpu.s.eip = 0x89abcdef;
    cpu.s.ripHi = -0x80; // 0xffffff80_89abcdef
    cpu.s.gpr[0] = 0x11111111;
    cpu.s.gprHi[0] = 0x22222222;
    const gdb = new GdbTestClient(m.board);
    expect(gdb.session.arch).toBe('x86-64');
    const xml = (await gdb.ask('qXfer:features:read:target.xml:0,3fff')).slice(1);
    expect(xml).toContain('<architecture>i386:x86-64</architecture>');
    expect(xml).toContain('<reg name="r15" bitsize="64"');
    const g = await gdb.ask('g');
    expect(g.slice(0, 16)).toBe('1111111122222222'); // rax
    expect(g.slice(16 * 16, 16 * 17)).toBe('efcdab8980ffffff'); // rip after 16 GPRs
    const bits = [...xml.matchAll(/<reg name="[^"]+" bitsize="(\d+)"/g)].reduce((s, r) => s + Number(r[1]), 0);
    expect(g.length).toBe(bits / 4);
  });
});
