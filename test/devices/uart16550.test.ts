/**
 * 16550A UART tests. Expected values are taken from the PC16550D / TL16C550C datasheets
 * (register bits, IIR codes, Table II priorities, reset values) and written out as numbers
 * here rather than imported from the implementation.
 */
import { describe, expect, it } from 'vitest';
import { Uart16550, defaultUartState, type UartState } from '../../devices/serial/uart16550.js';
import { RecordingIrqLine } from '../../src/machine/irq.js';
import { VirtualClock } from '../../src/machine/clock.js';
import { MemoryCharBackend } from '../../src/chardev/chardev.js';
import { SnapshotError } from '../../src/errors.js';

// Offsets from the datasheet's register table.
const RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

interface Rig {
  uart: Uart16550;
  irq: RecordingIrqLine;
  clock: VirtualClock;
  backend: MemoryCharBackend;
  /** Moves the fake host clock forward and fires due timers. */
  advanceNs(ns: number): void;
  rd(offset: number): number;
  wr(offset: number, value: number): void;
}

function rig(state?: UartState, startNs = 0): Rig {
  let fakeNowNs = startNs;
  const clock = new VirtualClock({ kind: 'realtime' }, () => fakeNowNs);
  clock.start();
  const irq = new RecordingIrqLine();
  const backend = new MemoryCharBackend();
  const uart = new Uart16550({ id: 'serial0', irq, clock, backend }, state);
  return {
    uart,
    irq,
    clock,
    backend,
    advanceNs(ns: number) {
      fakeNowNs += ns;
      clock.runDueTimers();
    },
    rd: (o) => uart.ioRead(o, 1),
    wr: (o, v) => uart.ioWrite(o, 1, v),
  };
}

/** Small deterministic PRNG (mulberry32) so random tests repeat. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

describe('Uart16550 reset state', () => {
  it('reads the datasheet reset values: IER 0, IIR 01, LCR 0, LSR 60', () => {
    const { rd } = rig();
    expect(rd(IER)).toBe(0x00);
    expect(rd(IIR)).toBe(0x01);
    expect(rd(LCR)).toBe(0x00);
    expect(rd(LSR)).toBe(0x60);
    expect(rd(MCR)).toBe(0x00);
  });

  it('reports CTS, DSR and DCD asserted on a host back end without modem lines', () => {
    expect(rig().rd(MSR)).toBe(0xb0);
  });

  it('reset() returns to power-on state and lowers the IRQ', () => {
    const r = rig();
    r.wr(IER, 0x0f);
    r.wr(SCR, 0x55);
    r.uart.receive(bytes(1));
    expect(r.irq.level).toBe(true);
    r.uart.reset();
    expect(r.irq.level).toBe(false);
    expect(r.uart.saveState()).toEqual(defaultUartState());
  });
});

describe('Uart16550 divisor latch and scratch', () => {
  it('DLAB switches offsets 0/1 to DLL/DLM and back', () => {
    const { rd, wr } = rig();
    wr(IER, 0x05);
    wr(LCR, 0x83); // DLAB, 8 bits
    wr(DLL, 0x01);
    wr(DLM, 0x02);
    expect(rd(DLL)).toBe(0x01);
    expect(rd(DLM)).toBe(0x02);
    wr(LCR, 0x03);
    expect(rd(IER)).toBe(0x05);
    expect(rd(LCR)).toBe(0x03);
  });

  it('a THR write with DLAB set changes DLL and transmits nothing', () => {
    const { rd, wr, backend } = rig();
    wr(LCR, 0x80);
    wr(THR, 0x41);
    expect(backend.text()).toBe('');
    expect(rd(DLL)).toBe(0x41);
  });

  it('the divisor shows in describe() as a baud rate (1.8432 MHz / 16 / divisor)', () => {
    const { uart, wr } = rig();
    wr(LCR, 0x80);
    wr(DLL, 0x01);
    wr(DLM, 0x00);
    wr(LCR, 0x1b); // 8 bits, even parity, 1 stop
    expect(uart.describe()).toMatch(/^serial0: divisor=1 \(115200 baud, 8E1\)/);
  });

  it('SCR holds any byte', () => {
    const { rd, wr } = rig();
    for (const v of [0x00, 0xa5, 0x5a, 0xff]) {
      wr(SCR, v);
      expect(rd(SCR)).toBe(v);
    }
  });

  it('IER bits 4-7 and MCR bits 5-7 read as 0', () => {
    const { rd, wr } = rig();
    wr(IER, 0xff);
    expect(rd(IER)).toBe(0x0f);
    wr(MCR, 0xff);
    expect(rd(MCR)).toBe(0x1f);
  });
});

describe('Uart16550 transmit and THRE interrupt', () => {
  it('sends THR bytes to the back end and leaves THRE and TEMT set', () => {
    const { rd, wr, backend } = rig();
    for (const c of 'hi\n') wr(THR, c.charCodeAt(0));
    expect(backend.text()).toBe('hi\n');
    expect(rd(LSR) & 0x60).toBe(0x60);
  });

  it('raises THRE when ETBEI goes 0->1 while THR is empty', () => {
    const { rd, wr, irq } = rig();
    wr(IER, 0x02);
    expect(irq.level).toBe(true);
    expect(rd(IIR)).toBe(0x02);
  });

  it('reading IIR that reports THRE clears it', () => {
    const { rd, wr, irq } = rig();
    wr(IER, 0x02);
    expect(rd(IIR)).toBe(0x02);
    expect(irq.level).toBe(false);
    expect(rd(IIR)).toBe(0x01);
  });

  it('writing THR clears THRE and it rises again once the byte is out, one edge per byte', () => {
    const { rd, wr, irq } = rig();
    wr(IER, 0x02);
    const before = irq.rises;
    wr(THR, 0x41);
    wr(THR, 0x42);
    expect(irq.rises).toBe(before + 2);
    expect(irq.level).toBe(true);
    expect(rd(IIR)).toBe(0x02);
  });

  it('a THR write with ETBEI clear leaves no pending THRE', () => {
    const { rd, wr, irq } = rig();
    wr(THR, 0x41);
    expect(irq.level).toBe(false);
    expect(rd(IIR)).toBe(0x01);
  });

  it('re-enabling ETBEI re-raises THRE after it was acknowledged', () => {
    const { rd, wr, irq } = rig();
    wr(IER, 0x02);
    rd(IIR);
    expect(irq.level).toBe(false);
    wr(IER, 0x00);
    wr(IER, 0x02);
    expect(irq.level).toBe(true);
  });

  it('rewriting IER with ETBEI already set does not re-raise an acknowledged THRE', () => {
    const { rd, wr, irq } = rig();
    wr(IER, 0x02);
    rd(IIR);
    wr(IER, 0x03);
    expect(irq.level).toBe(false);
  });
});

describe('Uart16550 IIR priority (datasheet Table II)', () => {
  it('reports RLS > RDA > THRE > MSR, each cleared by its own action', () => {
    const { uart, rd, wr, irq } = rig();
    wr(MCR, 0x02); // RTS only: no effect on inputs outside loopback
    wr(IER, 0x0f);
    rd(IIR); // acknowledge the THRE raised by enabling ETBEI
    uart.receive(bytes(0x31)); // 16450 mode: one byte fills RBR
    uart.receive(bytes(0x32)); // overwrites it: overrun
    wr(MCR, 0x12); // loopback with RTS: CTS stays, DSR and DCD drop -> DDSR, DDCD
    wr(IER, 0x0d);
    wr(IER, 0x0f); // re-raise THRE
    expect(irq.level).toBe(true);
    expect(rd(IIR)).toBe(0x06); // receiver line status
    expect(rd(LSR) & 0x03).toBe(0x03); // OE and DR
    expect(rd(IIR)).toBe(0x04); // received data available
    expect(rd(RBR)).toBe(0x32);
    expect(rd(IIR)).toBe(0x02); // THR empty; reading IIR clears it
    expect(rd(IIR)).toBe(0x00); // modem status
    expect(rd(MSR)).toBe(0x1a); // CTS level, DDCD, DDSR
    expect(rd(IIR)).toBe(0x01);
    expect(irq.level).toBe(false);
  });

  it('character timeout (code C) is reported at priority 2, below line status', () => {
    const { uart, rd, wr, advanceNs } = rig();
    wr(FCR, 0xc1); // FIFO, trigger 14
    wr(IER, 0x05);
    uart.receive(bytes(1, 2, 3));
    advanceNs(1e9);
    expect(rd(IIR)).toBe(0xcc);
    uart.receiveBreak();
    expect(rd(IIR) & 0x0f).toBe(0x0c); // the break byte is not at the top yet
    for (let i = 0; i < 3; i++) rd(RBR);
    expect(rd(IIR)).toBe(0xc6); // now BI is revealed
  });

  it('masked sources never raise the line', () => {
    const { uart, wr, irq } = rig();
    uart.receive(bytes(1));
    uart.receive(bytes(2));
    wr(MCR, 0x1f);
    wr(THR, 0x41);
    expect(irq.level).toBe(false);
    expect(irq.rises).toBe(0);
  });

  it('the IRQ is not gated by OUT2, as in QEMU', () => {
    const { uart, rd, wr, irq } = rig();
    expect(rd(MCR) & 0x08).toBe(0);
    wr(IER, 0x01);
    uart.receive(bytes(1));
    expect(irq.level).toBe(true);
  });
});

describe('Uart16550 FIFOs', () => {
  it('IIR bits 6-7 read 11 with FCR0 set and 00 without', () => {
    const { rd, wr } = rig();
    wr(FCR, 0x01);
    expect(rd(IIR)).toBe(0xc1);
    wr(FCR, 0x00);
    expect(rd(IIR)).toBe(0x01);
  });

  for (const [fcr, trigger] of [
    [0x01, 1],
    [0x41, 4],
    [0x81, 8],
    [0xc1, 14],
  ] as const) {
    it(`FCR ${fcr.toString(16)} raises received data available at ${trigger} bytes`, () => {
      const { uart, rd, wr, irq } = rig();
      wr(FCR, fcr);
      wr(IER, 0x01);
      for (let i = 0; i < trigger - 1; i++) uart.receive(bytes(i));
      expect(irq.level).toBe(false);
      expect(rd(LSR) & 0x01).toBe(trigger > 1 ? 0x01 : 0x00);
      uart.receive(bytes(0x99));
      expect(irq.level).toBe(true);
      expect(rd(IIR)).toBe(0xc4);
      rd(RBR); // one below the trigger: RDA goes away
      expect(rd(IIR)).toBe(0xc1);
      expect(irq.level).toBe(false);
    });
  }

  it('holds 16 bytes in order; a 17th is lost and sets OE', () => {
    const { uart, rd, wr } = rig();
    wr(FCR, 0x01);
    expect(uart.canReceive()).toBe(16);
    for (let i = 0; i < 17; i++) uart.receive(bytes(0x40 + i));
    expect(uart.canReceive()).toBe(0);
    expect(rd(LSR) & 0x03).toBe(0x03);
    const got: number[] = [];
    while (rd(LSR) & 0x01) got.push(rd(RBR));
    expect(got).toEqual(Array.from({ length: 16 }, (_, i) => 0x40 + i));
  });

  it('FCR1 empties the receive FIFO and clears DR', () => {
    const { uart, rd, wr } = rig();
    wr(FCR, 0x01);
    uart.receive(bytes(1, 2, 3));
    wr(FCR, 0x03);
    expect(rd(LSR) & 0x01).toBe(0);
    expect(uart.canReceive()).toBe(16);
  });

  it('changing FCR0 empties the FIFO; bits written without FCR0 are not programmed', () => {
    const { uart, rd, wr } = rig();
    uart.receive(bytes(7));
    wr(FCR, 0x01);
    expect(rd(LSR) & 0x01).toBe(0);
    uart.receive(bytes(8));
    wr(FCR, 0x00);
    expect(rd(LSR) & 0x01).toBe(0);
    uart.receive(bytes(9));
    wr(FCR, 0xc2); // FCR0 clear: RFR and the trigger are ignored
    expect(rd(LSR) & 0x01).toBe(1);
    expect(rd(IIR)).toBe(0x01);
  });
});

describe('Uart16550 character timeout', () => {
  // 9600 baud (divisor 12), 8N1: 10 bits per character, 1,041,666.7 ns; 4 chars = 4,166,667 ns.
  it('fires 4 character times after the last byte arrived, not before', () => {
    const { uart, rd, wr, irq, advanceNs } = rig();
    wr(LCR, 0x80);
    wr(DLL, 12);
    wr(DLM, 0);
    wr(LCR, 0x03);
    wr(FCR, 0xc1); // trigger 14
    wr(IER, 0x01);
    uart.receive(bytes(0x61, 0x62));
    advanceNs(4_166_000);
    expect(irq.level).toBe(false);
    advanceNs(1_000);
    expect(irq.level).toBe(true);
    expect(rd(IIR)).toBe(0xcc);
  });

  it('a new byte restarts the count', () => {
    const { uart, wr, irq, advanceNs } = rig();
    wr(LCR, 0x03);
    wr(FCR, 0xc1);
    wr(IER, 0x01);
    uart.receive(bytes(1));
    advanceNs(3_000_000);
    uart.receive(bytes(2));
    advanceNs(3_000_000);
    expect(irq.level).toBe(false);
    advanceNs(1_200_000);
    expect(irq.level).toBe(true);
  });

  it('reading RBR clears the timeout and restarts it for what remains', () => {
    const { uart, rd, wr, irq, advanceNs } = rig();
    wr(LCR, 0x03);
    wr(FCR, 0xc1);
    wr(IER, 0x01);
    uart.receive(bytes(1, 2));
    advanceNs(5_000_000);
    expect(rd(IIR)).toBe(0xcc);
    expect(rd(RBR)).toBe(1);
    expect(irq.level).toBe(false);
    advanceNs(4_167_000);
    expect(rd(IIR)).toBe(0xcc);
    expect(rd(RBR)).toBe(2);
    advanceNs(10_000_000);
    expect(rd(IIR)).toBe(0xc1); // empty FIFO: no timeout
  });

  // 115200 baud (divisor 1), 7E2: 1 + 7 + 1 + 2 = 11 bits, 95,486.1 ns; 4 chars = 381,944.4 ns.
  it('uses word length, parity and stop bits from LCR', () => {
    const { uart, wr, irq, advanceNs } = rig();
    wr(LCR, 0x80);
    wr(DLL, 1);
    wr(DLM, 0);
    wr(LCR, 0x1e);
    wr(FCR, 0x81);
    wr(IER, 0x01);
    uart.receive(bytes(1));
    advanceNs(381_900);
    expect(irq.level).toBe(false);
    advanceNs(100);
    expect(irq.level).toBe(true);
  });

  it('is masked by ERBFI and absent in 16450 mode', () => {
    const a = rig();
    a.wr(FCR, 0xc1);
    a.uart.receive(bytes(1));
    a.advanceNs(1e9);
    expect(a.irq.level).toBe(false);
    const b = rig();
    b.wr(IER, 0x01);
    b.uart.receive(bytes(1));
    b.rd(IIR);
    b.advanceNs(1e9);
    expect(b.rd(IIR)).toBe(0x04);
  });
});

describe('Uart16550 line status errors', () => {
  it('16450 mode overrun: the new byte replaces the old one and OE is set', () => {
    const { uart, rd } = rig();
    uart.receive(bytes(1));
    uart.receive(bytes(2));
    expect(rd(LSR)).toBe(0x63);
    expect(rd(RBR)).toBe(2);
  });

  it('reading LSR clears OE and BI and drops the line status interrupt', () => {
    const { uart, rd, wr, irq } = rig();
    wr(IER, 0x04);
    uart.receive(bytes(1));
    uart.receive(bytes(2));
    expect(irq.level).toBe(true);
    expect(rd(LSR) & 0x1e).toBe(0x02);
    expect(rd(LSR) & 0x1e).toBe(0x00);
    expect(irq.level).toBe(false);
  });

  it('break: a zero byte with BI and DR, BI cleared by reading LSR', () => {
    const { uart, rd, wr, irq } = rig();
    wr(IER, 0x04);
    uart.receiveBreak();
    expect(irq.level).toBe(true);
    expect(rd(IIR)).toBe(0x06);
    expect(rd(LSR)).toBe(0x71); // TEMT, THRE, BI, DR
    expect(rd(LSR)).toBe(0x61);
    expect(rd(RBR)).toBe(0);
    expect(irq.level).toBe(false);
  });

  it('FIFO mode: BI shows when the break byte reaches the top, LSR7 while it is queued', () => {
    const { uart, rd, wr } = rig();
    wr(FCR, 0x01);
    uart.receive(bytes(0x61));
    uart.receiveBreak();
    uart.receive(bytes(0x62));
    let lsr = rd(LSR);
    expect(lsr & 0x10).toBe(0); // BI not yet revealed
    expect(lsr & 0x80).toBe(0x80); // an error character is in the FIFO
    expect(rd(RBR)).toBe(0x61);
    lsr = rd(LSR);
    expect(lsr & 0x10).toBe(0x10);
    expect(rd(RBR)).toBe(0);
    expect(rd(LSR) & 0x90).toBe(0); // no error characters remain
    expect(rd(RBR)).toBe(0x62);
  });
});

describe('Uart16550 loopback', () => {
  it('transmitted bytes come back on RBR and do not reach the back end', () => {
    const { rd, wr, backend } = rig();
    wr(MCR, 0x10);
    wr(THR, 0x5a);
    expect(backend.text()).toBe('');
    expect(rd(LSR)).toBe(0x61);
    expect(rd(RBR)).toBe(0x5a);
  });

  it('MSR inputs follow MCR outputs: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD', () => {
    const { rd, wr } = rig();
    wr(MCR, 0x10);
    rd(MSR); // discard the deltas of entering loopback
    for (const [mcr, inputs] of [
      [0x11, 0x20],
      [0x12, 0x10],
      [0x14, 0x40],
      [0x18, 0x80],
      [0x1f, 0xf0],
      [0x1a, 0x90], // what Linux's 8250 probe checks for
    ] as const) {
      wr(MCR, mcr);
      expect(rd(MSR) & 0xf0).toBe(inputs);
    }
  });

  it('sets delta bits on changes; TERI only on the trailing edge of RI', () => {
    const { rd, wr, irq } = rig();
    wr(MCR, 0x10);
    expect(rd(MSR)).toBe(0x0b); // CTS, DSR, DCD fell: DCTS, DDSR, DDCD
    wr(IER, 0x08);
    wr(MCR, 0x14); // RI rises: no TERI
    expect(irq.level).toBe(false);
    expect(rd(MSR)).toBe(0x40);
    wr(MCR, 0x10); // RI falls: TERI
    expect(irq.level).toBe(true);
    expect(rd(IIR)).toBe(0x00);
    expect(rd(MSR)).toBe(0x04);
    expect(irq.level).toBe(false);
    wr(MCR, 0x11);
    wr(MCR, 0x13);
    expect(rd(MSR)).toBe(0x33); // deltas accumulate until read
  });

  it('back-end input waits while in loopback and arrives after it ends', () => {
    const { rd, wr, backend } = rig();
    wr(MCR, 0x10);
    backend.pushInput(bytes(0x41));
    expect(rd(LSR) & 0x01).toBe(0);
    wr(MCR, 0x00);
    expect(rd(LSR) & 0x01).toBe(1);
    expect(rd(RBR)).toBe(0x41);
  });
});

describe('Uart16550 flow control towards the back end', () => {
  it('takes 16 of 100 pasted bytes and delivers all 100 in order as the guest reads', () => {
    const { rd, wr, backend } = rig();
    wr(FCR, 0x07);
    const input = Uint8Array.from({ length: 100 }, (_, i) => (i * 7 + 3) & 0xff);
    backend.pushInput(input);
    expect(backend.queuedBytes).toBe(84);
    const got: number[] = [];
    while (rd(LSR) & 0x01) got.push(rd(RBR));
    expect(got).toEqual(Array.from(input));
    expect(backend.queuedBytes).toBe(0);
    expect(rd(LSR) & 0x02).toBe(0); // no overrun
  });

  it('in 16450 mode takes one byte at a time without loss', () => {
    const { rd, backend } = rig();
    backend.pushInput(bytes(1, 2, 3, 4, 5));
    expect(backend.queuedBytes).toBe(4);
    const got: number[] = [];
    while (rd(LSR) & 0x01) got.push(rd(RBR));
    expect(got).toEqual([1, 2, 3, 4, 5]);
  });

  it('clearing the FIFO lets held input in', () => {
    const { rd, wr, backend } = rig();
    wr(FCR, 0x01);
    backend.pushInput(new Uint8Array(20).fill(9));
    wr(FCR, 0x03);
    expect(backend.queuedBytes).toBe(0);
    let n = 0;
    while (rd(LSR) & 0x01) n += rd(RBR) === 9 ? 1 : 0;
    expect(n).toBe(4);
  });
});

describe('Uart16550 hostile programming', () => {
  it('divisor 0 neither throws nor stops output, and the timeout stays finite', () => {
    const { uart, rd, wr, irq, backend, advanceNs } = rig();
    wr(LCR, 0x80);
    wr(DLL, 0);
    wr(DLM, 0);
    wr(LCR, 0x03);
    wr(THR, 0x41);
    expect(backend.text()).toBe('A');
    wr(FCR, 0xc1);
    wr(IER, 0x01);
    uart.receive(bytes(1));
    expect(() => advanceNs(60e9)).not.toThrow();
    expect(irq.level).toBe(true);
    expect(rd(IIR)).toBe(0xcc);
    expect(uart.describe()).toContain('divisor=0 (rate undefined');
  });

  it('writes to LSR and MSR are ignored', () => {
    const { rd, wr } = rig();
    wr(LSR, 0xff);
    wr(MSR, 0x0f);
    expect(rd(LSR)).toBe(0x60);
    expect(rd(MSR)).toBe(0xb0);
  });

  it('random writes and reads on every offset never throw and keep registers in range', () => {
    const r = rig();
    const rand = prng(1);
    const bad: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const offset = Math.floor(rand() * 8);
      if (rand() < 0.5) {
        const weird = [0, 0xff, 0x100, -1, 0x12345678, NaN, 1.5][Math.floor(rand() * 7)]!;
        const value = rand() < 0.8 ? Math.floor(rand() * 256) : weird;
        r.wr(offset, value); // a throw fails the test
      } else {
        const v = r.rd(offset);
        if (!(Number.isInteger(v) && v >= 0 && v <= 0xff)) bad.push(`read ${offset} -> ${v}`);
      }
      if (rand() < 0.05) r.backend.pushInput(bytes(Math.floor(rand() * 256)));
      if (rand() < 0.01) r.uart.receiveBreak();
      if (rand() < 0.05) r.advanceNs(rand() * 1e7);
    }
    expect(bad).toEqual([]);
    // The state is still one loadState accepts.
    expect(() => rig(r.uart.saveState())).not.toThrow();
  });

  it('out-of-range offsets read all ones and ignore writes', () => {
    const r = rig();
    expect(r.rd(8)).toBe(0xff);
    expect(() => r.wr(-1, 5)).not.toThrow();
    expect(r.uart.saveState()).toEqual(defaultUartState());
  });
});

describe('Uart16550 snapshot', () => {
  function scramble(r: Rig, seed: number): void {
    const rand = prng(seed);
    for (let i = 0; i < 500; i++) {
      const offset = Math.floor(rand() * 8);
      r.wr(offset, Math.floor(rand() * 256));
      if (rand() < 0.3) r.rd(Math.floor(rand() * 8));
      if (rand() < 0.1) r.uart.receive(bytes(Math.floor(rand() * 256)).subarray(0, Math.min(1, r.uart.canReceive())));
    }
  }

  for (const seed of [1, 2, 3, 4, 5]) {
    it(`random register writes survive save, load into a fresh instance, save (seed ${seed})`, () => {
      const a = rig(undefined, 1_000);
      scramble(a, seed);
      const saved = a.uart.saveState();
      const b = rig(undefined, 1_000);
      b.uart.loadState(JSON.parse(JSON.stringify(saved)), a.uart.stateVersion);
      expect(b.uart.saveState()).toEqual(saved);
      expect(b.irq.level).toBe(a.irq.level);
    });
  }

  it('saveState returns a deep copy', () => {
    const r = rig();
    r.wr(FCR, 0x01);
    r.uart.receive(bytes(1, 2));
    const saved = r.uart.saveState();
    saved.rxFifo.push(3);
    expect(r.uart.saveState().rxFifo).toEqual([1, 2]);
  });

  it('re-arms the character timeout from the saved deadline', () => {
    const a = rig(undefined, 0);
    a.wr(LCR, 0x03);
    a.wr(FCR, 0xc1);
    a.wr(IER, 0x01);
    a.uart.receive(bytes(1));
    const saved = a.uart.saveState();
    expect(saved.timeoutDeadlineNs).toBe(4_166_667);
    const b = rig(undefined, 0);
    b.uart.loadState(saved, 1);
    expect(b.clock.nextDeadlineNs()).toBe(4_166_667);
    b.advanceNs(4_166_000);
    expect(b.irq.level).toBe(false);
    b.advanceNs(1_000);
    expect(b.rd(IIR)).toBe(0xcc);
  });

  it('loading a state without a deadline disarms a pending timeout', () => {
    const r = rig();
    r.wr(LCR, 0x03);
    r.wr(FCR, 0xc1);
    r.wr(IER, 0x01);
    r.uart.receive(bytes(1));
    expect(r.clock.nextDeadlineNs()).toBe(4_166_667);
    r.uart.reset();
    expect(r.clock.nextDeadlineNs()).toBe(Infinity);
    r.advanceNs(1e9);
    expect(r.irq.level).toBe(false);
    expect(r.clock.nextDeadlineNs()).toBe(Infinity);
  });

  const good = (): UartState => ({
    ...defaultUartState(),
    fcr: 0x01,
    lsr: 0x61,
    rxFifo: [1, 2],
    rxFifoErrors: [0, 0x10],
  });
  const bad: [string, (s: Record<string, unknown>) => unknown][] = [
    ['not an object', () => null],
    ['an array', () => []],
    ['missing divisor', (s) => ({ ...s, divisor: undefined })],
    ['divisor out of range', (s) => ({ ...s, divisor: 0x10000 })],
    ['fractional lcr', (s) => ({ ...s, lcr: 1.5 })],
    ['ier with high bits', (s) => ({ ...s, ier: 0x10 })],
    ['fcr with self-clearing bits', (s) => ({ ...s, fcr: 0x03 })],
    ['fcr bits without FCR0', (s) => ({ ...s, fcr: 0xc0 })],
    ['string scr', (s) => ({ ...s, scr: '7' })],
    ['17 bytes in the FIFO', (s) => ({ ...s, rxFifo: new Array(17).fill(0), rxFifoErrors: new Array(17).fill(0) })],
    ['2 bytes in 16450 mode', (s) => ({ ...s, fcr: 0 })],
    ['byte out of range', (s) => ({ ...s, rxFifo: [1, 256] })],
    ['errors length mismatch', (s) => ({ ...s, rxFifoErrors: [0] })],
    ['error bits other than PE/FE/BI', (s) => ({ ...s, rxFifoErrors: [0, 0x02] })],
    ['DR without data', (s) => ({ ...s, rxFifo: [], rxFifoErrors: [] })],
    ['THRE clear', (s) => ({ ...s, lsr: 0x41 })],
    ['MSR inputs not matching MCR', (s) => ({ ...s, msr: 0x00 })],
    ['non-boolean flag', (s) => ({ ...s, thrIpending: 1 })],
    ['negative deadline', (s) => ({ ...s, timeoutDeadlineNs: -2 })],
    ['infinite deadline', (s) => ({ ...s, timeoutDeadlineNs: Infinity })],
  ];
  for (const [what, mutate] of bad) {
    it(`loadState rejects ${what} with SnapshotError and changes nothing`, () => {
      const r = rig();
      r.uart.loadState(good(), 1);
      r.wr(SCR, 0x42);
      const before = r.uart.saveState();
      expect(() => r.uart.loadState(mutate(good() as unknown as Record<string, unknown>), 1)).toThrow(SnapshotError);
      expect(r.uart.saveState()).toEqual(before);
    });
  }

  it('loadState rejects another state version', () => {
    const r = rig();
    expect(() => r.uart.loadState(defaultUartState(), 2)).toThrow(SnapshotError);
  });

  it('a state passed to the constructor arms its timeout too', () => {
    const saved: UartState = { ...defaultUartState(), fcr: 0xc1, ier: 0x01, lsr: 0x61, rxFifo: [5], rxFifoErrors: [0], timeoutDeadlineNs: 500 };
    const r = rig(saved, 0);
    r.advanceNs(500);
    expect(r.rd(IIR)).toBe(0xcc);
  });

  it('the constructor validates a restored state too', () => {
    expect(() => rig({ ...defaultUartState(), lcr: 300 })).toThrow(SnapshotError);
  });

  it('a loaded state recomputes the IRQ line', () => {
    const r = rig();
    r.uart.loadState({ ...good(), ier: 0x01 }, 1);
    expect(r.irq.level).toBe(true);
    expect(r.rd(IIR)).toBe(0xc4);
  });
});
