/**
 * The software TLB: a direct-mapped cache of translations, one set per privilege (supervisor,
 * user), in the style of QEMU's softmmu TLB. Each entry has three tags — read, write and fetch
 * — that hold the virtual page number only when that kind of access is allowed for the set's
 * privilege, so the fast path is one compare: `tag[i] === vpn`. The write tag is set only
 * when the leaf entry is already dirty, so that the first write re-walks and sets D (SDM 4.8).
 *
 * Entries are filled with paging off too (identity map, A20 applied), so every CPU access
 * takes the same fast path. The TLB is a cache and is never saved in snapshots.
 *
 * Invalidation is exact (SDM 4.10.4): `invalidatePage` (INVLPG) removes the translations of
 * the page holding an address — all 4 KiB pieces of a large page; `flushNonGlobal` (MOV to
 * CR3) keeps global entries; `flushAll` drops everything. Nothing else removes an entry but
 * replacement, so a translation left stale by a missing INVLPG stays observable, as on
 * hardware.
 */

/** log2 of the entries per privilege set. */
export const TLB_BITS = 11;
export const TLB_SIZE = 1 << TLB_BITS;
export const TLB_MASK = TLB_SIZE - 1;
/** Set index of user-mode (CPL 3) accesses; supervisor accesses use set 0. */
export const TLB_USER = 1;

/** No virtual page number: an invalid tag. */
const NONE = -1;
/**
 * RAM offsets translated code reaches through the int32 hit (Tlb.jitRamOffset): a frame's
 * offset plus 4095 stays an int32. RAM beyond it takes the out-of-line path.
 */
const JIT_RAM_LIMIT = 2 ** 31 - 4096;

export class Tlb {
  // Layout: slot = (set << TLB_BITS) | (vpn & TLB_MASK); set 0 supervisor, 1 user.
  /** Virtual page number if reads are allowed, else -1. */
  readonly tagRead = new Float64Array(2 * TLB_SIZE).fill(NONE);
  /** Virtual page number if writes are allowed and the page is dirty, else -1. */
  readonly tagWrite = new Float64Array(2 * TLB_SIZE).fill(NONE);
  /** Virtual page number if instruction fetches are allowed, else -1. */
  readonly tagFetch = new Float64Array(2 * TLB_SIZE).fill(NONE);
  /** The slot's virtual page number (whatever its tags allow), or -1 if empty. */
  readonly vpn = new Float64Array(2 * TLB_SIZE).fill(NONE);
  /** Physical address of the 4 KiB frame. */
  readonly frame = new Float64Array(2 * TLB_SIZE);
  /** Byte offset of the frame in guest RAM, or -1 when it is not RAM (ROM, MMIO, nothing). */
  readonly ramOffset = new Float64Array(2 * TLB_SIZE).fill(NONE);
  /**
   * For translated code's inlined hit (jit/tlb-ram-view.ts), all int32 so that the hit needs
   * no double arithmetic: the bits of the virtual page number above the slot's
   * (`vpn / TLB_SIZE`, below 2^25) where tagRead/tagWrite allow the access and the frame is
   * RAM at an offset below JIT_RAM_LIMIT, else -1; and that RAM offset (-1 otherwise).
   */
  readonly jitTagRead = new Int32Array(2 * TLB_SIZE).fill(NONE);
  readonly jitTagWrite = new Int32Array(2 * TLB_SIZE).fill(NONE);
  readonly jitRamOffset = new Int32Array(2 * TLB_SIZE).fill(NONE);
  /** 1 if the translation is global (survives MOV to CR3). */
  readonly global = new Uint8Array(2 * TLB_SIZE);
  /** Number of 4 KiB pages of the mapping the entry came from (1, 512, 1024 or 262144). */
  readonly pages = new Float64Array(2 * TLB_SIZE);
  /** Occupied slots, so that flushes touch only what is filled. */
  private readonly used = new Int32Array(2 * TLB_SIZE);
  private usedCount = 0;
  /** 1 if the slot is in `used` (a cleared slot stays there until the next compaction). */
  private readonly inUsed = new Uint8Array(2 * TLB_SIZE);
  /** Entries from large pages (INVLPG must then search for the whole large page). */
  private largeCount = 0;
  /** Bumped by every invalidation; the CPU's fetch cache compares it. */
  generation = 0;

  /** Slot of `vpn` in set `set`. */
  static slot(set: number, vpn: number): number {
    return (set << TLB_BITS) | (vpn & TLB_MASK);
  }

  /**
   * Fills the slot for `vpn` in `set` with a translation. `read`, `write`, `fetch` say which
   * accesses the entry serves; `pages` is the size of the mapping in 4 KiB pages.
   */
  fill(set: number, vpn: number, frame: number, ramOffset: number, read: boolean, write: boolean, fetch: boolean, global: boolean, pages: number): void {
    const i = Tlb.slot(set, vpn);
    if (!this.inUsed[i]) {
      this.inUsed[i] = 1;
      this.used[this.usedCount++] = i;
    }
    if (this.vpn[i] !== NONE && this.pages[i]! > 1) this.largeCount--;
    this.vpn[i] = vpn;
    this.tagRead[i] = read ? vpn : NONE;
    this.tagWrite[i] = write ? vpn : NONE;
    this.tagFetch[i] = fetch ? vpn : NONE;
    this.frame[i] = frame;
    this.ramOffset[i] = ramOffset;
    const jitRam = ramOffset >= 0 && ramOffset < JIT_RAM_LIMIT;
    const high = Math.floor(vpn / TLB_SIZE);
    this.jitTagRead[i] = read && jitRam ? high : NONE;
    this.jitTagWrite[i] = write && jitRam ? high : NONE;
    this.jitRamOffset[i] = jitRam ? ramOffset : NONE;
    this.global[i] = global ? 1 : 0;
    this.pages[i] = pages;
    if (pages > 1) this.largeCount++;
  }

  /** INVLPG: drops the translations of the page (of any size) that holds `vpn`, global or not. */
  invalidatePage(vpn: number): void {
    this.generation++;
    for (let set = 0; set < 2; set++) {
      const i = Tlb.slot(set, vpn);
      if (this.vpn[i] === vpn) this.clear(i);
    }
    if (this.largeCount === 0) return;
    // A large page is cached as 4 KiB pieces in many slots: drop every piece of it.
    for (let k = 0; k < this.usedCount; k++) {
      const i = this.used[k]!;
      const n = this.pages[i]!;
      if (n > 1 && this.vpn[i] !== NONE && Math.floor(this.vpn[i]! / n) === Math.floor(vpn / n)) this.clear(i);
    }
    this.compact();
  }

  /** MOV to CR3 (and task switches): drops every non-global translation. */
  flushNonGlobal(): void {
    this.generation++;
    for (let k = 0; k < this.usedCount; k++) {
      const i = this.used[k]!;
      if (!this.global[i]) this.clear(i);
    }
    this.compact();
  }

  /** Drops everything (paging-mode changes, CR4.PGE toggles, A20, reset). */
  flushAll(): void {
    this.generation++;
    for (let k = 0; k < this.usedCount; k++) {
      const i = this.used[k]!;
      this.clear(i);
      this.inUsed[i] = 0;
    }
    this.usedCount = 0;
    this.largeCount = 0;
  }

  /** Number of valid entries (for tests and `info tlb`). */
  get size(): number {
    let n = 0;
    for (let k = 0; k < this.usedCount; k++) if (this.vpn[this.used[k]!] !== NONE) n++;
    return n;
  }

  private clear(i: number): void {
    if (this.vpn[i] === NONE) return;
    if (this.pages[i]! > 1) this.largeCount--;
    this.vpn[i] = NONE;
    this.tagRead[i] = NONE;
    this.tagWrite[i] = NONE;
    this.tagFetch[i] = NONE;
    this.ramOffset[i] = NONE;
    this.jitTagRead[i] = NONE;
    this.jitTagWrite[i] = NONE;
    this.jitRamOffset[i] = NONE;
  }

  /** Removes cleared slots from the used list. */
  private compact(): void {
    let n = 0;
    for (let k = 0; k < this.usedCount; k++) {
      const i = this.used[k]!;
      if (this.vpn[i] !== NONE) this.used[n++] = i;
      else this.inUsed[i] = 0;
    }
    this.usedCount = n;
  }
}
