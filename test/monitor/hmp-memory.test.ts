/**
 * HMP x / xp / p / i / o / memsave / pmemsave / info mem / info tlb print what QEMU prints,
 * on a machine that has not started (the demo firmware, as with -S) with hand-placed memory
 * and page tables.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { defaultMachineConfig } from '../../src/machine/config.js';
import { LineLogger, NULL_LOGGER } from '../../src/machine/log.js';
import { runHmpCommand } from '../../src/monitor/hmp.js';
import { QmpSession } from '../../src/monitor/qmp.js';

function machine(): Machine {
  return new Machine(defaultMachineConfig({ memoryBytes: 16 * 1024 * 1024 }), { serial: [], log: NULL_LOGGER });
}

function put32(m: Machine, addr: number, v: number): void {
  new DataView(m.memory.ram.buffer).setUint32(addr, v >>> 0, true);
}

/** 32-bit paging: page directory at 0x10000, one page table at 0x11000 for 0-4 MiB. */
function enable32BitPaging(m: Machine): void {
  put32(m, 0x10000, 0x11000 | 0x7); // PDE 0: P RW US
  put32(m, 0x11000 + 0x10 * 4, 0x20000 | 0x7); // 0x10000 -> 0x20000, U W
  put32(m, 0x11000 + 0x11 * 4, 0x21000 | 0x61); // 0x11000 -> 0x21000, read-only, A D
  put32(m, 0x10000 + 2 * 4, 0x00c00000 | 0x83 | 0x100); // PDE 2: 4 MiB page at 0x800000 -> 0xc00000, G
  const s = m.cpu.s;
  s.cr3 = 0x10000;
  s.cr4 |= 1 << 4; // PSE
  s.cr0 |= 0x80000001;
  m.cpu.mmu.flushAll();
}

describe('HMP xp and x', () => {
  it('xp dumps words by default with QEMU addresses and item widths', () => {
    const m = machine();
    m.memory.ram.set([0x78, 0x56, 0x34, 0x12, 0xff, 0xee, 0xdd, 0xcc, 1, 0, 0, 0], 0x1000);
    expect(runHmpCommand(m, 'xp /3x 0x1000')).toBe('0000000000001000: 0x12345678 0xccddeeff 0x00000001');
    // The size is remembered: a later `xp /2` still dumps words; /b switches to bytes, 8 a line.
    expect(runHmpCommand(m, 'xp /9xb 0x1000')).toBe(
      '0000000000001000: 0x78 0x56 0x34 0x12 0xff 0xee 0xdd 0xcc\n0000000000001008: 0x01');
    expect(runHmpCommand(m, 'xp /2 0x1000')).toBe('0000000000001000: 0x78 0x56');
  });

  it('decimal, unsigned, octal, char and giant formats pad as printf does', () => {
    const m = machine();
    m.memory.ram.set([0xff, 0xff, 0x05, 0x00, 0x41, 0x0a, 0x27, 0x01], 0x2000);
    expect(runHmpCommand(m, 'xp /2dh 0x2000')).toBe('0000000000002000: 65535     5'); // QEMU's /d sign-extends only 8-byte items
    expect(runHmpCommand(m, 'xp /2uh 0x2000')).toBe('0000000000002000: 65535     5');
    expect(runHmpCommand(m, 'xp /1ow 0x2000')).toBe('0000000000002000:    01377777');
    expect(runHmpCommand(m, 'xp /4cb 0x2004')).toBe("0000000000002004: 'A' '\\n' '\\'' '\\x01'");
    expect(runHmpCommand(m, 'xp /1dg 0x2000')).toBe('0000000000002000:    83046392419188735');
    expect(runHmpCommand(m, 'xp /1xg 0x2000')).toBe('0000000000002000: 0x01270a410005ffff');
  });

  it('unassigned physical memory cannot be read; x follows the paging mode', () => {
    const m = machine();
    expect(runHmpCommand(m, 'xp /2x 0x20000000')).toBe('0000000020000000: Cannot access memory');
    m.memory.ram.set([0xaa, 0xbb, 0xcc, 0xdd], 0x20000);
    // Paging off: x reads the linear = physical address.
    expect(runHmpCommand(m, 'x /1xw 0x20000')).toBe('0000000000020000: 0xddccbbaa');
    enable32BitPaging(m);
    expect(runHmpCommand(m, 'x /1xw 0x10000')).toBe('0000000000010000: 0xddccbbaa');
    // The first line reads, the second (an unmapped page) does not.
    expect(runHmpCommand(m, 'x /8xw 0x11ff0')).toBe(
      '0000000000011ff0: 0x00000000 0x00000000 0x00000000 0x00000000\n0000000000012000: Cannot access memory');
    // The probe left the accessed bit of PTE 0x10 alone.
    expect(new DataView(m.memory.ram.buffer).getUint32(0x11000 + 0x10 * 4, true) & 0x20).toBe(0);
  });

  it('addresses are expressions with registers', () => {
    const m = machine();
    m.memory.ram.set([0x11, 0x22], 0x3010);
    m.cpu.s.gpr[3] = 0x3000; // EBX
    expect(runHmpCommand(m, 'xp /2xb $ebx+0x10')).toBe('0000000000003010: 0x11 0x22');
    expect(runHmpCommand(m, 'xp/2xb ($ebx + 32) - 16')).toBe('0000000000003010: 0x11 0x22');
  });

  it('hostile counts neither throw nor run away', () => {
    const m = machine();
    // QEMU's count is a C int: 4294967295 wraps to -1 and dumps nothing.
    expect(runHmpCommand(m, 'xp /4294967295x 0')).toBe('');
    const out = runHmpCommand(m, 'xp /100000000xb 0x100000').split('\n');
    expect(out.length).toBe((1 << 16) + 1);
    expect(out[out.length - 1]).toBe('Error: dump truncated after 65536 lines (use memsave or pmemsave for more)');
  });

  it('help CMD shows the one command the error hint points at', () => {
    const m = machine();
    expect(runHmpCommand(m, 'help x')).toBe("x /fmt addr -- virtual memory dump starting at 'addr'");
    expect(runHmpCommand(m, 'help p')).toBe('print|p /fmt expr -- print expression value (use $reg for CPU register access)');
    expect(runHmpCommand(m, 'help info')).toContain('info mem  -- show the active virtual memory mappings');
    expect(runHmpCommand(m, 'help nosuch')).toBe("unknown command: 'nosuch'");
  });

  it('format i disassembles (zeroed RAM in real mode is `addb %al, (%bx, %si)`, as QEMU shows)', () => {
    expect(runHmpCommand(machine(), 'x /3i 0').split('\n')).toEqual([0, 2, 4].map(
      (a) => `0x0000000${a}:  00 00                    addb     %al, (%bx, %si)`,
    ));
  });

  it('syntax errors answer in QEMU words and a help hint', () => {
    const m = machine();
    expect(runHmpCommand(m, 'x /4x')).toBe('unexpected end of expression\nTry "help x" for more information');
    expect(runHmpCommand(m, 'xp /4q 0')).toBe("invalid char in format: 'q'\nTry \"help xp\" for more information");
    expect(runHmpCommand(m, 'xp 0 junk')).toBe('xp: extraneous characters at the end of line\nTry "help xp" for more information');
    expect(runHmpCommand(m, 'p $nosuch')).toBe('unknown register\nTry "help p" for more information');
    expect(runHmpCommand(m, 'p 1/0')).toBe('division by zero\nTry "help p" for more information');
  });
});

describe('HMP p, i and o', () => {
  it('p prints in the remembered format, hex by default', () => {
    const m = machine();
    m.cpu.s.gpr[0] = 0x1234; // EAX
    expect(runHmpCommand(m, 'p $eax')).toBe('0x1234');
    expect(runHmpCommand(m, 'p /d $eax')).toBe('4660');
    expect(runHmpCommand(m, 'print 2*3+010')).toBe('14'); // 010 is octal, as strtoull reads it
    expect(runHmpCommand(m, 'p /x 0')).toBe('0');
    expect(runHmpCommand(m, 'p /x -1')).toBe('0xffffffffffffffff');
    expect(runHmpCommand(m, 'p /c 65')).toBe("'A'");
    expect(runHmpCommand(m, 'p /x $pc')).toBe('0xfffffff0'); // CS base 0xffff0000 + EIP 0xfff0
  });

  it('i reads a port and o writes one (the RTC index/data pair)', () => {
    const m = machine();
    expect(runHmpCommand(m, 'o /b 0x70 0x0a')).toBe('');
    expect(runHmpCommand(m, 'i /b 0x71')).toBe('portb[0x0071] = 0x26');
    // `.index` writes the index port first, then reads the next port.
    expect(runHmpCommand(m, 'i /b 0x70 .0x0b')).toBe('portb[0x0071] = 0x02');
    expect(runHmpCommand(m, 'i /h 0x1234')).toBe('portw[0x1234] = 0xffff');
    expect(runHmpCommand(m, 'i /w 0x1234')).toBe('portl[0x1234] = 0xffffffff');
    expect(runHmpCommand(m, 'i /h 0x100000000')).toBe("'i' has failed: integer is for 32-bit values\nTry \"help i\" for more information");
  });
});

describe('HMP memsave and pmemsave', () => {
  it('write guest memory to a file, or say why not', () => {
    const m = machine();
    const dir = mkdtempSync(join(tmpdir(), 'pcvm-memsave-'));
    m.memory.ram.set([1, 2, 3, 4, 5], 0x5000);
    expect(runHmpCommand(m, `pmemsave 0x5000 5 "${join(dir, 'p.bin')}"`)).toBe('');
    expect([...readFileSync(join(dir, 'p.bin'))]).toEqual([1, 2, 3, 4, 5]);
    // A bare path starting with '/' would read as a division, in QEMU too: paths are quoted.
    expect(runHmpCommand(m, `memsave 0x5001 3 "${join(dir, 'v.bin')}"`)).toBe('');
    expect([...readFileSync(join(dir, 'v.bin'))]).toEqual([2, 3, 4]);
    expect(runHmpCommand(m, `memsave 0x40000000 16 "${join(dir, 'bad.bin')}"`)).toBe(
      'Error: Invalid addr 0x0000000040000000/size 16 specified');
    expect(runHmpCommand(m, `memsave 0 1 "${join(dir, 'no/such/file')}"`)).toBe(
      `Error: Could not open '${join(dir, 'no/such/file')}': No such file or directory`);
    expect(runHmpCommand(m, 'memsave 0 1')).toBe('memsave: string expected\nTry "help memsave" for more information');
  });
});

describe('HMP info mem and info tlb', () => {
  it('say PG disabled without paging', () => {
    const m = machine();
    expect(runHmpCommand(m, 'info mem')).toBe('PG disabled');
    expect(runHmpCommand(m, 'info tlb')).toBe('PG disabled');
  });

  it('list 32-bit mappings as QEMU does', () => {
    const m = machine();
    enable32BitPaging(m);
    expect(runHmpCommand(m, 'info mem')).toBe([
      '0000000000010000-0000000000011000 0000000000001000 urw',
      '0000000000011000-0000000000012000 0000000000001000 -r-',
      '0000000000800000-0000000000c00000 0000000000400000 -rw',
    ].join('\n'));
    expect(runHmpCommand(m, 'info tlb')).toBe([
      '0000000000010000: 0000000000020000 -------UW',
      '0000000000011000: 0000000000021000 ---DA----',
      '0000000000800000: 0000000000c00000 -GP-----W',
    ].join('\n'));
  });

  it('walk PAE tables, with XD in the entry', () => {
    const m = machine();
    const dv = new DataView(m.memory.ram.buffer);
    dv.setUint32(0x30000, 0x31000 | 1, true); // PDPTE 0
    dv.setUint32(0x31000 + 8, 0x32000 | 7, true); // PDE 1 (0x200000): table
    dv.setUint32(0x32000 + 8 * 3, 0x40000 | 0x3, true); // 0x203000 -> 0x40000 RW
    dv.setUint32(0x32000 + 8 * 3 + 4, 0x80000000, true); // XD
    dv.setUint32(0x31000 + 16, 0x600000 | 0x85, true); // PDE 2: 2 MiB page, user read-only
    const s = m.cpu.s;
    s.cr3 = 0x30000;
    s.cr4 |= 1 << 5;
    s.cr0 |= 0x80000001;
    m.cpu.mmu.loadPdptes(0x30000);
    m.cpu.mmu.flushAll();
    expect(runHmpCommand(m, 'info mem')).toBe([
      '0000000000203000-0000000000204000 0000000000001000 -rw',
      '0000000000400000-0000000000600000 0000000000200000 ur-',
    ].join('\n'));
    expect(runHmpCommand(m, 'info tlb')).toBe([
      '0000000000203000: 8000000000040000 X-------W',
      '0000000000400000: 0000000000600000 --P----U-',
    ].join('\n'));
  });

  it('walk 4-level tables, with canonical high addresses and 1 GiB pages', () => {
    const m = machine();
    const dv = new DataView(m.memory.ram.buffer);
    dv.setUint32(0x50000 + 511 * 8, 0x51000 | 7, true); // PML4E 511: 0xffff8000_00000000
    dv.setUint32(0x51000 + 511 * 8, 0x52000 | 3, true); // PDPTE 511: directory
    dv.setUint32(0x52000 + 511 * 8, 0x53000 | 3, true); // PDE 511: table
    dv.setUint32(0x53000 + 511 * 8, 0x7000 | 3, true); // PTE 511 -> 0x7000
    dv.setUint32(0x50000, 0x54000 | 7, true); // PML4E 0
    dv.setUint32(0x54000 + 8, 0x40000000 | 0x87, true); // PDPTE 1: 1 GiB page at 1 GiB, user
    m.memory.ram.set([0xef, 0xbe], 0x7ffe);
    const s = m.cpu.s;
    s.cr3 = 0x50000;
    s.cr4 |= 1 << 5;
    s.efer |= (1 << 8) | (1 << 10);
    s.cr0 |= 0x80000001;
    m.cpu.mmu.flushAll();
    expect(runHmpCommand(m, 'info mem')).toBe([
      '0000000040000000-0000000080000000 0000000040000000 urw',
      // QEMU's last range ends at 1 << 48, which addr_canonical leaves alone.
      'fffffffffffff000-0001000000000000 0000000000001000 -rw',
    ].join('\n'));
    expect(runHmpCommand(m, 'info tlb')).toBe([
      '0000000040000000: 0000000040000000 --P----UW',
      'fffffffffffff000: 0000000000007000 --------W',
    ].join('\n'));
    expect(runHmpCommand(m, 'x /1xh 0xfffffffffffffffe')).toBe('fffffffffffffffe: 0xbeef');
    expect(runHmpCommand(m, 'x /1xh 0x0000800000000000')).toBe('0000800000000000: Cannot access memory');
  });

  it('x output comes through QMP human-monitor-command with CRLF line ends', () => {
    const m = machine();
    m.memory.ram.set([1, 2, 3, 4, 5, 6, 7, 8, 9], 0x6000);
    const out: string[] = [];
    const s = new QmpSession(m, (t) => out.push(t));
    s.start();
    s.receive('{"execute": "qmp_capabilities"}{"execute": "human-monitor-command", "arguments": {"command-line": "xp /9xb 0x6000"}}');
    const reply = JSON.parse(out[2]!) as { return: string };
    expect(reply.return).toBe('0000000000006000: 0x01 0x02 0x03 0x04 0x05 0x06 0x07 0x08\r\n0000000000006008: 0x09\r\n');
    m.close();
  });

  it('info mtree prints the memory and I/O maps in QEMU\'s region-line format', () => {
    const out = runHmpCommand(machine(), 'info mtree').split('\n');
    expect(out.slice(0, 4)).toEqual([
      'address-space: cpu-memory-0',
      'address-space: memory',
      '  0000000000000000-ffffffffffffffff (prio 0, i/o): system',
      '    0000000000000000-000000000009ffff (prio 0, ram): alias ram-below-4g @pc.ram 0000000000000000-000000000009ffff',
    ]);
    expect(out).toContain('    0000000000100000-0000000000ffffff (prio 0, ram): alias ram-below-4g @pc.ram 0000000000100000-0000000000ffffff');
    expect(out).toContain('    00000000fec00000-00000000fec00fff (prio 0, i/o): ioapic');
    expect(out).toContain('    00000000ffff0000-00000000ffffffff (prio 0, rom): pc.bios');
    const io = out.indexOf('address-space: I/O');
    expect(out[io - 1]).toBe('');
    expect(out[io + 1]).toBe('  0000000000000000-000000000000ffff (prio 0, i/o): io');
    expect(out).toContain('    00000000000003f8-00000000000003ff (prio 0, i/o): serial0');
  });

  it('are listed by info', () => {
    const out = runHmpCommand(machine(), 'info');
    expect(out).toContain('info mem  -- show the active virtual memory mappings');
    expect(out).toContain('info tlb  -- show virtual to physical memory mappings');
    expect(out).toContain('info mtree  -- show memory tree');
  });
});

describe('HMP log and logfile', () => {
  it('switch -d items and the log file at run time', () => {
    const lines: string[] = [];
    const log = new LineLogger([], (l) => lines.push(l));
    const m = new Machine(defaultMachineConfig({ memoryBytes: 16 * 1024 * 1024 }), { serial: [], log });
    expect(runHmpCommand(m, 'log unimp,int')).toBe('');
    expect(log.enabled('unimp') && log.enabled('int') && !log.enabled('exec')).toBe(true);
    expect(runHmpCommand(m, 'log bogus')).toBe('log item1[,...] -- activate logging of the specified items');
    expect(log.enabled('unimp')).toBe(true);
    expect(runHmpCommand(m, 'log')).toBe('log: string expected\nTry "help log" for more information');
    const dir = mkdtempSync(join(tmpdir(), 'pcvm-logfile-'));
    expect(runHmpCommand(m, `logfile "${join(dir, 'no/such/log')}"`)).toBe(
      `Error opening logfile ${join(dir, 'no/such/log')}: No such file or directory`);
    expect(runHmpCommand(m, `logfile "${join(dir, 'pcvm.log')}"`)).toBe('');
    log.log('unimp', 'pcvm: something unimplemented');
    expect(readFileSync(join(dir, 'pcvm.log'), 'utf8')).toBe('pcvm: something unimplemented\n');
    expect(runHmpCommand(m, 'log none')).toBe('');
    expect(log.enabled('unimp')).toBe(false);
    expect(lines).toEqual([]);
    m.close();
  });

  it('refuse politely when the machine has a fixed logger', () => {
    expect(runHmpCommand(machine(), 'log unimp')).toBe('Error: logging is not configurable in this machine');
  });
});
