/**
 * Machine: the PC board. Builds itself from a MachineConfig — memory map, I/O bus, clock,
 * devices, CPU, accelerator — and runs the guest on Node's event loop in slices, so that
 * host I/O (stdin, sockets, the monitor) is served between them.
 *
 * Run loop: fire due timers, run the vCPU until the next timer deadline (or the end of the
 * slice), repeat; yield to the event loop after each slice of about 10 ms. When the vCPU
 * halts with nothing pending, sleep until the next deadline or until a device raises an
 * interrupt (`kick`). In -icount mode a halted vCPU instead warps virtual time to the next
 * deadline, so a run is the same every time.
 *
 * Two Machines in one process are independent: nothing here is global.
 */
import { EventEmitter } from 'node:events';
import { closeSync, openSync, writeSync } from 'node:fs';
import { IoPortBus } from '../memory/io-bus.js';
import type { MemoryMapRegion, PhysicalMemory } from '../memory/physical-memory.js';
import { VirtualClock } from './clock.js';
import { NO_IRQ, WiredIrqLine, type IrqLine } from './irq.js';
import { isaIrqToGsi } from './gsi.js';
import type { Device } from './device.js';
import { DEFAULT_RTC_BASE_MS, type MachineBackends, type MachineConfig } from './config.js';
import type { MachineControl, MachineEvents, MachineStatus, PagingRegisters, RunState, ShutdownReason } from './control.js';
import { BELOW_4G_RAM_MAX, layoutMemory } from './memory-layout.js';
import { loadDefaultFirmware, pcvmVersion } from './default-firmware.js';
import { X86Cpu } from '../cpu/x86/cpu.js';
import { Fl } from '../cpu/x86/state.js';
import { InterpreterAccel } from '../accel/interp/interpreter.js';
import { JitEngine } from '../cpu/x86/jit/jit-engine.js';
import { RunExit, type Accelerator } from '../accel/accelerator.js';
import { NullCharBackend } from '../chardev/chardev.js';
import { Pic8259Pair } from '../../devices/pic/pic8259.js';
import { LocalApic } from '../../devices/apic/lapic.js';
import { IoApic, IOAPIC_DEFAULT_BASE } from '../../devices/apic/ioapic.js';
import { Uart16550 } from '../../devices/serial/uart16550.js';
import { FwCfg } from '../../devices/fwcfg/fw-cfg.js';
import { AcpiPm } from '../../devices/acpi/acpi-pm.js';
import { IsaDebugExit } from '../../devices/misc/isa-debug-exit.js';
import { ResetControl } from '../../devices/misc/reset-control.js';
import { Port92 } from '../../devices/misc/port92.js';
import { PostPort } from '../../devices/misc/post-port.js';
import { FerrIrq13 } from '../../devices/misc/ferr-irq13.js';
import { Pit8254 } from '../../devices/timer/pit8254.js';
import { HPET_BASE, HPET_IRQ_ROUTES, HPET_MMIO_SIZE, Hpet } from '../../devices/timer/hpet.js';
import { Port61 } from '../../devices/timer/port61.js';
import { Mc146818 } from '../../devices/rtc/mc146818.js';
import { pcCmosNvram } from '../../devices/rtc/pc-cmos.js';
import { I8042 } from '../../devices/input/i8042.js';
import { KeySender } from './send-key.js';
import { PcPciBoard, type PciDeviceInfo } from './pci-board.js';
import { ChardevList } from '../chardev/chardev-list.js';
import { VirtioBoard, type BlockInfo, type DriveBackend } from './virtio-board.js';
import { ApicMsiRouter } from '../../devices/apic/msi-router.js';
import { applyBootPlan, planDirectBoot, type BootPlan } from './boot/direct-boot.js';
import { programBiosMtrrs } from './boot/bios-mtrrs.js';
import { leaveBiosKeyboardController } from './boot/bios-keyboard.js';
import { installAcpiTables } from './acpi/install.js';
import { buildSmbiosImage, installSmbios, smbiosRamRanges, type SmbiosImage } from './smbios/install.js';
import { Feat1Edx, cpuModelOf } from '../cpu/x86/cpu-model.js';
import { readPhysicalDebug, readVirtualDebug } from './debug-access.js';
import { LineLogger } from './log.js';
import { errnoText } from './errno-text.js';
import { MachineDebugger } from './debugger.js';
import type { BlockBackend } from '../block/block-backend.js';
import { VmSnapshots } from '../snapshot/vm-snapshots.js';

/** Host time given to the guest before yielding to the event loop. */
const SLICE_NS = 10_000_000;

/** I/O bases of COM1..COM4 and their ISA IRQs. */
export const COM_PORTS: readonly [number, number][] = [[0x3f8, 4], [0x2f8, 3], [0x3e8, 4], [0x2e8, 3]];

/** ACPI SCI on a PC: ISA IRQ 9. */
const SCI_IRQ = 9;

export type PendingRequest = 'none' | 'reset' | 'shutdown';

/**
 * For the clock's stall judge: a probe of whether the vCPU is (most likely) inside an
 * interrupt handler — it runs with IF = 0 and an interrupt was delivered since IF was last
 * seen set. A handler's code is held to the stricter floor (clock.ts HANDLER_STALL_NS_PER_INSN);
 * other IRQ-off code, such as a bzImage's decompressor or early kernel init, is not, so its
 * cold start adds no lag.
 */
export function interruptHandlerProbe(cpu: Pick<X86Cpu, 's' | 'interruptsDelivered'>): () => boolean {
  let deliveredWhenUnmasked = cpu.interruptsDelivered;
  return () => {
    if ((cpu.s.eflags & Fl.IF) !== 0) {
      deliveredWhenUnmasked = cpu.interruptsDelivered;
      return false;
    }
    return cpu.interruptsDelivered !== deliveredWhenUnmasked;
  };
}

export class Machine extends EventEmitter implements MachineControl {
  readonly memory: PhysicalMemory;
  readonly io = new IoPortBus();
  readonly clock: VirtualClock;
  readonly cpu: X86Cpu;
  readonly accel: Accelerator;
  readonly pic: Pic8259Pair;
  readonly lapic: LocalApic;
  readonly ioapic: IoApic;
  readonly serial: Uart16550[] = [];
  readonly fwCfg: FwCfg;
  readonly acpi: AcpiPm;
  readonly pit: Pit8254;
  readonly rtc: Mc146818;
  /** The HPET (absent with `-machine hpet=off`). */
  readonly hpet: Hpet | undefined;
  /** The i8042 keyboard controller (`kbc.sendScancodes` types on the PS/2 keyboard). */
  readonly kbc: I8042;
  /** Host key presses with a timed release (HMP sendkey). */
  readonly keys: KeySender;
  readonly pci: PcPciBoard;
  /** virtio-blk-pci and virtio-net-pci functions with their back ends. */
  readonly virtio: VirtioBoard;
  /** Character devices by QEMU label (HMP `info chardev`); the front end that opens them fills it. */
  readonly chardevs = new ChardevList();
  /** Every device, in reset order. */
  readonly devices: Device[] = [];
  /** `-kernel`: what the board loads at power-on and every reset instead of running the BIOS. */
  readonly directBoot: BootPlan | undefined;
  /** The SMBIOS tables direct boot installs, built once from the config. */
  private readonly smbios: SmbiosImage | undefined;
  /** Breakpoints, watchpoints and single-step for the gdbstub. */
  readonly debugger: MachineDebugger;
  /** savevm/loadvm/delvm, migration to a file or command (src/snapshot/vm-snapshots.ts). */
  readonly snapshots: VmSnapshots;
  /** `-drive` images in command-line order. */
  private readonly drives: readonly DriveBackend[];

  private state: RunState;
  private pending: PendingRequest = 'none';
  private exitStatus: number | undefined;
  private loopScheduled = false;
  private sleepTimer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private readonly isaIrqs: IrqLine[] = [];
  /** The file HMP `logfile` opened, closed when replaced. */
  private logFd: number | undefined;

  constructor(readonly config: MachineConfig, private readonly backends: MachineBackends) {
    super();
    this.clock = new VirtualClock(config.clock);
    this.memory = layoutMemory(config.memoryBytes, config.bios ?? loadDefaultFirmware(), config.kernel !== undefined);
    this.pic = new Pic8259Pair({ id: 'pic', log: backends.log });
    this.pic.onInterruptChange = () => this.kick();
    // The CPU's interrupt controller is the LAPIC; the 8259 reaches it through LINT0 (virtual
    // wire) or directly when the LAPIC is disabled. Each ISA IRQ goes to the 8259 and the IOAPIC.
    const log = backends.log;
    const eoi = { endOfInterrupt: (v: number) => this.ioapic.endOfInterrupt(v) };
    const raiseNmi = () => (this.cpu.injectNmi(), this.kick());
    const raiseInit = () => { const taken = this.cpu.signalInit(); if (taken) this.kick(); return taken; };
    this.lapic = new LocalApic({ clock: this.clock, memory: this.memory, extInt: this.pic, eoi, raiseNmi, raiseInit, onInterrupt: () => this.kick(), log });
    this.ioapic = new IoApic({ apicBus: this.lapic, log });
    this.pic.onOutputLevel = (level) => this.lapic.setLint0(level);
    this.memory.mapMmio('ioapic', IOAPIC_DEFAULT_BASE, 0x1000, this.ioapic);
    const ioapicIsa = { setIrq: (irq: number, level: boolean) => this.ioapic.setIrq(isaIrqToGsi(irq), level) };
    for (let i = 0; i < 16; i++) this.isaIrqs.push(new WiredIrqLine([this.pic, ioapicIsa], i));

    this.cpu = new X86Cpu({
      mem: this.memory,
      io: this.io,
      interrupts: this.lapic,
      apic: this.lapic,
      nowNs: () => this.clock.nowNs(),
      excludeHostTime: (ns) => this.clock.excludeHostTime(ns),
      log: backends.log,
    }, cpuModelOf(config));
    if (config.accel === 'jit') new JitEngine(this.cpu, this.memory);
    this.accel = new InterpreterAccel(this.cpu, this.clock, config.accel);
    this.debugger = new MachineDebugger(this.cpu);
    this.clock.onEarlierDeadline = () => this.accel.requestExit();
    // Host stalls (GC, the host's scheduler) show as time passing with nothing retired.
    if (!this.clock.deterministic) this.clock.measureProgress(() => this.cpu.retired, interruptHandlerProbe(this.cpu));

    // --- devices on the ISA bus ---
    this.io.map('pic-master', 0x20, 2, this.pic.master);
    this.io.map('pic-slave', 0xa0, 2, this.pic.slave);
    this.io.map('elcr', 0x4d0, 2, this.pic.elcrPorts);
    this.devices.push(this.pic, this.lapic, this.ioapic);

    for (let i = 0; i < config.serialPorts; i++) {
      const [base, irq] = COM_PORTS[i]!;
      const uart = new Uart16550({
        id: `serial${i}`,
        irq: this.isaIrqs[irq]!,
        clock: this.clock,
        backend: backends.serial[i] ?? new NullCharBackend(),
      });
      this.io.map(`serial${i}`, base, 8, uart);
      this.serial.push(uart);
      this.devices.push(uart);
    }

    // The HPET, as on QEMU's pc: route n is ISA IRQ n below 16, I/O APIC pin n above. The PIT
    // and the RTC reach IRQ 0 and 8 through it, so that LegacyReplacement can take them over.
    if (config.hpet !== false) {
      const routes = Array.from({ length: HPET_IRQ_ROUTES }, (_, r): IrqLine =>
        r < 16 ? this.isaIrqs[r]! : r < 24 ? { set: (level) => this.ioapic.setIrq(r, level) } : NO_IRQ);
      this.hpet = new Hpet({ clock: this.clock, irqs: routes, log });
      this.memory.mapMmio('hpet', HPET_BASE, HPET_MMIO_SIZE, this.hpet);
    }

    // PIT on IRQ 0, port 0x61 for counter 2's gate and OUT2, RTC/CMOS on IRQ 8, and the
    // keyboard controller on IRQs 1 and 12 with the A20 gate and reset line of its output port.
    this.pit = new Pit8254({ clock: this.clock, irq0: this.hpet?.pitIrqInput ?? this.isaIrqs[0]! });
    this.io.map('pit', 0x40, 4, this.pit);
    this.devices.push(this.pit);
    const port61 = new Port61('port61', { pit: this.pit, clock: this.clock });
    this.io.map('port61', 0x61, 1, port61);
    this.devices.push(port61);
    const ramBelow4g = Math.min(config.memoryBytes, BELOW_4G_RAM_MAX);
    this.rtc = new Mc146818({
      clock: this.clock,
      irq: this.hpet?.rtcIrqInput ?? this.isaIrqs[8]!,
      startMs: config.rtcBaseMs ?? DEFAULT_RTC_BASE_MS,
      nvram: pcCmosNvram({ belowFourGBytes: ramBelow4g, aboveFourGBytes: config.memoryBytes - ramBelow4g }),
      log: backends.log,
    });
    this.io.map('rtc', 0x70, 2, this.rtc);
    this.devices.push(this.rtc);
    if (this.hpet) this.devices.push(this.hpet);
    this.kbc = new I8042({
      kbdIrq: this.isaIrqs[1]!,
      auxIrq: this.isaIrqs[12]!,
      setA20: (on) => this.cpu.setA20(on),
      onReset: () => this.requestReset(),
      log: backends.log,
    });
    this.io.map('i8042-data', 0x60, 1, this.kbc.dataPort);
    this.io.map('i8042-cmd', 0x64, 1, this.kbc.commandPort);
    this.devices.push(this.kbc);
    this.keys = new KeySender(this.clock, this.kbc);

    this.fwCfg = new FwCfg({ ramBytes: config.memoryBytes, cpuCount: 1, memory: this.memory, logger: backends.log });
    this.fwCfg.addFile('opt/pcvm/version', new TextEncoder().encode(pcvmVersion()));
    for (const f of config.fwCfgFiles) this.fwCfg.addFile(f.name, f.data);
    this.io.map('fw_cfg', 0x510, 2, this.fwCfg.selectorPort, { widths: [1, 2] });
    if (this.fwCfg.dmaPort) this.io.map('fw_cfg-dma', 0x514, 8, this.fwCfg.dmaPort, { widths: [1, 2, 4] });
    this.devices.push(this.fwCfg);

    this.acpi = new AcpiPm({
      clock: this.clock,
      sci: this.isaIrqs[SCI_IRQ]!,
      onPowerOff: () => this.requestShutdown(),
    });
    this.devices.push(this.acpi);

    // PCI: the PIIX4 PM function maps the ACPI block (at 0x600); 0xCF9 shares CONFIG_ADDRESS.
    const rcr = new ResetControl('reset-control', () => this.requestReset());
    this.devices.push(rcr);
    this.pci = new PcPciBoard({
      memory: this.memory, io: this.io, isaIrqs: this.isaIrqs, pmPorts: this.acpi.ports, resetControl: rcr, logger: backends.log,
    });
    this.devices.push(...this.pci.devices);
    this.pci.applyFirmwareDefaults(this.pic.elcrPorts);
    // PCI MSI/MSI-X writes to 0xFEExxxxx become LAPIC messages (devices/apic/msi-router.ts).
    const msi = new ApicMsiRouter({ apicBus: this.lapic, memory: this.memory, logger: log });
    this.drives = backends.drives ?? [];
    this.virtio = new VirtioBoard({ bus: this.pci.bus, memory: this.memory, msi, logger: log }, config.virtioDevices ?? [], this.drives, backends.netdevs ?? []);
    this.devices.push(...this.virtio.deviceList);
    const port92 = new Port92('port92', { setA20: (on) => this.cpu.setA20(on), onReset: () => this.requestReset() });
    this.io.map('port92', 0x92, 1, port92);
    this.devices.push(port92);
    // x87 errors with CR0.NE = 0: FERR# raises IRQ 13 until the handler writes port 0xF0.
    const ferr = new FerrIrq13('ferr', this.isaIrqs[13]!);
    this.io.map('ferr', 0xf0, 1, ferr);
    this.devices.push(ferr);
    this.cpu.onFerr = (asserted) => ferr.setFerr(asserted);
    const post = new PostPort('ioport80');
    this.io.map('ioport80', 0x80, 1, post);
    this.devices.push(post);

    config.debugExits.forEach((d, i) => {
      const dev = new IsaDebugExit(`isa-debug-exit${i}`, (status) => this.finish(status, 'isa-debug-exit'));
      this.io.map(dev.id, d.iobase, d.iosize, dev, { widths: [1, 2, 4] });
      this.devices.push(dev);
    });

    this.directBoot = config.kernel && planDirectBoot(config.kernel, { memoryBytes: config.memoryBytes, isRam: (a, n) => this.memory.isRam(a, n) });
    if (this.directBoot) {
      const model = cpuModelOf(config);
      this.smbios = buildSmbiosImage(config.smbios ?? {}, {
        memoryBytes: config.memoryBytes,
        ramRanges: smbiosRamRanges(config.memoryBytes),
        // CPUID.1 as the CPU reports it after reset (the LAPIC is globally enabled then).
        cpuidSignature: model.signature,
        cpuidFeatureEdx: model.feat1Edx | Feat1Edx.APIC,
        firmwareVersion: pcvmVersion(),
      });
    }
    this.loadDirectBoot();
    this.state = config.startStopped ? 'prelaunch' : 'paused';
    this.snapshots = new VmSnapshots(this);
  }

  /**
   * The machine's disks in `-drive` order, for savevm/loadvm (internal snapshots go to every
   * writable one, the VM state to the first writable qcow2).
   */
  blockBackends(): BlockBackend[] {
    return this.drives.map((d) => d.backend);
  }

  /** A device's reset or power-off request the run loop has not handled yet (saved in snapshots). */
  get pendingRequest(): PendingRequest {
    return this.pending;
  }

  set pendingRequest(req: PendingRequest) {
    this.pending = req;
  }

  /**
   * Pauses the VM in run state `state`: `inmigrate` while waiting for an incoming stream
   * (-incoming defer), `postmigrate` after the state went out, `paused` after an incoming
   * migration under -S. `cont` leaves any of them.
   */
  enterPausedState(state: 'paused' | 'inmigrate' | 'postmigrate'): void {
    if (this.exitStatus !== undefined) return;
    this.stop();
    this.state = state;
  }

  /** Direct kernel boot, at power-on and after every reset: load the kernel and enter it. */
  private loadDirectBoot(): void {
    if (!this.directBoot) return;
    // Without a BIOS the board is the firmware: it lays out the ACPI tables (the RSDP at
    // ACPI_RSDP_ADDR, where boot_params.acpi_rsdp_addr points) before the kernel is loaded.
    installAcpiTables(this.memory, this.config.memoryBytes, {
      pmBase: this.pci.pm.pmBase,
      sciIrq: SCI_IRQ,
      serialPorts: this.config.serialPorts,
      i8042: true,
      hpet: this.hpet !== undefined,
    });
    if (this.smbios) installSmbios(this.memory, this.smbios);
    applyBootPlan(this.directBoot, this.memory, this.cpu);
    // What SeaBIOS leaves behind that the kernel reads: MTRRs and the i8042 command byte.
    programBiosMtrrs(this.cpu, Math.min(this.config.memoryBytes, BELOW_4G_RAM_MAX));
    leaveBiosKeyboardController(this.io);
  }

  // ============================================================================================
  // MachineControl
  // ============================================================================================

  /** Starts execution (unless -S asked to wait for `cont`). */
  start(): void {
    if (this.state === 'prelaunch' || this.state === 'inmigrate') return;
    this.cont();
  }

  status(): MachineStatus {
    return { running: this.state === 'running', state: this.state };
  }

  /** `info lapic`. */
  infoLapic(): string {
    return this.lapic.info(0);
  }

  /** `info ioapic`. */
  infoIoapic(): string {
    return this.ioapic.info();
  }

  /** `info version`. */
  get version(): string {
    return pcvmVersion();
  }

  get runState(): RunState {
    return this.state;
  }

  stop(): void {
    if (this.state !== 'running') return;
    this.state = 'paused';
    this.clock.stop();
    this.accel.requestExit();
    this.cancelLoop();
    this.emit('stop');
  }

  cont(): void {
    if (this.state === 'running' || this.exitStatus !== undefined) return;
    this.state = 'running';
    this.debugger.prepareResume();
    this.clock.start();
    this.emit('resume');
    this.scheduleLoop();
  }

  reset(): void {
    this.doReset(false);
  }

  powerdown(): void {
    this.acpi.powerButton();
    this.emit('powerdown');
  }

  quit(): void {
    this.emit('shutdown', false, 'host-qmp-quit' satisfies ShutdownReason);
    this.finish(0, 'quit');
  }

  /** QMP `query-block` (HMP `info block`). */
  queryBlock(): BlockInfo[] {
    return this.virtio.queryBlock();
  }

  /** HMP `info network`. */
  infoNetwork(): string {
    return this.virtio.infoNetwork();
  }

  /** HMP `sendkey`: presses keys (QEMU qnums), then releases them, `holdMs` of virtual time apart. */
  sendKeys(qnums: readonly number[], holdMs?: number): string | undefined {
    const err = this.keys.send(qnums, holdMs);
    this.kick();
    return err;
  }

  /** QMP `query-pci`: the functions on bus 0 (HMP `info pci`). */
  queryPci(): PciDeviceInfo[] {
    return this.pci.queryPci();
  }

  readPhysical(addr: number, len: number): Uint8Array | undefined {
    return readPhysicalDebug(this.memory, addr, len);
  }

  readVirtual(addr: bigint, len: number): Uint8Array | undefined {
    return readVirtualDebug(this.cpu, addr, len);
  }

  memoryMap(): { memory: MemoryMapRegion[]; io: { name: string; base: number; length: number }[] } {
    return { memory: this.memory.regions(), io: this.io.list() };
  }

  setLogItems(items: string[]): boolean {
    const log = this.backends.log;
    if (!(log instanceof LineLogger)) return false;
    log.setItems(items);
    return true;
  }

  setLogFile(path: string): string | undefined {
    const log = this.backends.log;
    if (!(log instanceof LineLogger)) return 'logging is not configurable in this machine';
    let fd: number;
    try {
      fd = openSync(path, 'a');
    } catch (e) {
      return `Error opening logfile ${path}: ${errnoText(e)}`;
    }
    log.setSink((line) => writeSync(fd, line + '\n'));
    if (this.logFd !== undefined) closeSync(this.logFd);
    this.logFd = fd;
    return undefined;
  }

  pagingRegisters(): PagingRegisters {
    const s = this.cpu.s;
    return { cr0: s.cr0, cr3: s.cr3, cr4: s.cr4, efer: s.efer };
  }

  portRead(port: number, size: 1 | 2 | 4): number {
    return this.io.read(port, size);
  }

  portWrite(port: number, size: 1 | 2 | 4, value: number): void {
    this.io.write(port, size, value);
  }

  /** Resolves with the exit status when the VM is over. */
  waitForExit(): Promise<number> {
    if (this.exitStatus !== undefined) return Promise.resolve(this.exitStatus);
    return new Promise((resolve) => this.once('exit', (status: number) => resolve(status)));
  }

  get exited(): boolean {
    return this.exitStatus !== undefined;
  }

  /** Stops everything and releases timers; the Machine cannot run again. */
  close(): void {
    this.virtio.close();
    if (this.exitStatus === undefined) this.exitStatus = 0;
    this.state = 'shutdown';
    this.clock.stop();
    this.cancelLoop();
  }

  // ============================================================================================
  // Requests from devices (run on the next instruction boundary)
  // ============================================================================================

  requestReset(): void {
    this.pending = 'reset';
    this.accel.requestExit();
    this.kick();
  }

  requestShutdown(): void {
    this.pending = 'shutdown';
    this.accel.requestExit();
    this.kick();
  }

  /** A device raised an interrupt or something else may wake a halted vCPU. */
  kick(): void {
    if (this.state !== 'running') return;
    if (this.sleepTimer) {
      clearTimeout(this.sleepTimer);
      this.sleepTimer = undefined;
      this.loopScheduled = false;
    }
    this.scheduleLoop();
  }

  private handlePending(): boolean {
    const req = this.pending;
    if (req === 'none') return false;
    this.pending = 'none';
    if (req === 'reset') {
      this.doReset(true);
    } else {
      this.emit('shutdown', true, 'guest-shutdown' satisfies ShutdownReason);
      if (this.config.noShutdown) {
        this.stop();
        this.state = 'shutdown';
      } else {
        this.finish(0, 'guest power-off');
      }
    }
    return true;
  }

  private doReset(guest: boolean): void {
    if (guest && this.config.noReboot) {
      this.emit('shutdown', true, 'guest-reset' satisfies ShutdownReason);
      this.finish(0, 'guest reset with -no-reboot');
      return;
    }
    for (const d of this.devices) d.reset();
    this.pci.applyFirmwareDefaults(this.pic.elcrPorts);
    this.cpu.reset();
    this.loadDirectBoot();
    this.emit('reset', guest);
  }

  private finish(status: number, reason: string): void {
    if (this.exitStatus !== undefined) return;
    this.exitStatus = status;
    this.virtio.close();
    this.state = 'shutdown';
    this.clock.stop();
    this.accel.requestExit();
    this.cancelLoop();
    this.emit('exit', status, reason);
  }

  // ============================================================================================
  // Run loop
  // ============================================================================================

  private scheduleLoop(): void {
    if (this.loopScheduled || this.state !== 'running') return;
    this.loopScheduled = true;
    this.immediate = setImmediate(() => {
      this.immediate = undefined;
      this.loopScheduled = false;
      this.guardedSlice();
    });
  }

  private cancelLoop(): void {
    if (this.immediate) clearImmediate(this.immediate);
    if (this.sleepTimer) clearTimeout(this.sleepTimer);
    this.immediate = undefined;
    this.sleepTimer = undefined;
    this.loopScheduled = false;
  }

  /** Runs the guest for up to one slice. Public for tests that drive the loop by hand. */
  runSlice(): void {
    const clock = this.clock;
    const sliceEnd = clock.nowNs() + SLICE_NS;
    const hostStart = performance.now();
    while (this.state === 'running') {
      clock.runDueTimers();
      if (this.handlePending()) continue;
      const until = Math.min(clock.nextDeadlineNs(), sliceEnd);
      const exit = this.accel.run(until);
      // A breakpoint, watchpoint or finished single step: the VM stops (the gdbstub reports it).
      if (this.debugger.takeStop()) {
        this.stop();
        return;
      }
      if (exit === RunExit.TripleFault) {
        this.backends.log.log('cpu_reset', 'pcvm: triple fault: resetting');
        this.doReset(true);
        continue;
      }
      if (exit === RunExit.Requested) continue;
      if (exit === RunExit.Halted) {
        if (this.pending !== 'none') continue;
        const next = clock.nextDeadlineNs();
        if (clock.deterministic) {
          if (next === Infinity) return; // idle until an external event kicks us
          clock.warpTo(next);
          if (performance.now() - hostStart > SLICE_NS / 1e6) break;
          continue;
        }
        // Idle: catch up on host work left out of virtual time (clock.ts), then sleep for
        // whatever is left until the next deadline. After a catch-up that reached the
        // deadline, the host's own events (a socket's data, a key) get their turn first.
        if (clock.recoverLag(next) > 0 && clock.nowNs() >= next) break;
        clock.idle();
        this.sleepUntil(next);
        return;
      }
      if (clock.nowNs() >= sliceEnd || performance.now() - hostStart > SLICE_NS / 1e6) break;
    }
    this.scheduleLoop();
  }

  /** Real-time mode, halted vCPU: wake at virtual time `deadlineNs` or on a kick. */
  private sleepUntil(deadlineNs: number): void {
    if (deadlineNs === Infinity) return; // a kick will wake us
    const ms = Math.max(0, (deadlineNs - this.clock.nowNs()) / 1e6);
    this.loopScheduled = true;
    this.sleepTimer = setTimeout(() => {
      this.sleepTimer = undefined;
      this.loopScheduled = false;
      this.guardedSlice();
    }, Math.min(ms, 1000));
  }

  /**
   * A host exception escaping the guest's slice is a bug in pcvm, never the guest's doing:
   * the VM ends with status 1 and a one-line reason instead of a stack trace on the console.
   */
  private guardedSlice(): void {
    try {
      this.runSlice();
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      this.backends.log.log('guest_errors', `pcvm: internal error: ${err.stack ?? err.message}`);
      this.finish(1, `internal error: ${err.message}`);
      this.state = 'internal-error';
    }
  }

  // Typed event helpers
  override on<E extends keyof MachineEvents>(event: E, listener: MachineEvents[E]): this {
    return super.on(event, listener);
  }
  override once<E extends keyof MachineEvents>(event: E, listener: MachineEvents[E]): this {
    return super.once(event, listener);
  }
}
