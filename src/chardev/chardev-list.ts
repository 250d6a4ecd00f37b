/**
 * The machine's character devices by QEMU label, for HMP `info chardev` (QEMU's
 * hmp_info_chardev: `LABEL: filename=FILENAME` per device). Labels follow QEMU's naming:
 * `serialN` for `-serial` (a `none` keeps its slot), `compat_monitorN` for `-monitor`/`-qmp` in
 * command-line order, the `-chardev` id, and `LABEL-base` for the device under a `mon:` mux.
 *
 * QEMU walks its /chardevs container, a GHashTable, so its line order is the table's hash
 * order; pcvm lists devices in creation order instead (the lines themselves are QEMU's).
 */

export interface ChardevListEntry {
  readonly label: string;
  /** Computed when asked: a socket's filename changes as peers come and go. */
  filename(): string;
}

export class ChardevList {
  private readonly entries: ChardevListEntry[] = [];

  add(label: string, filename: string | (() => string)): void {
    this.entries.push({ label, filename: typeof filename === 'string' ? () => filename : filename });
  }

  /** A device and, when the monitor is muxed onto it, QEMU's `mux` front with its `-base`. */
  addMaybeMuxed(label: string, mux: boolean, filename: string | (() => string)): void {
    if (mux) {
      this.add(label, 'mux');
      this.add(`${label}-base`, filename);
    } else {
      this.add(label, filename);
    }
  }

  /** Adds another list's devices after this one's. */
  append(other: ChardevList): void {
    this.entries.push(...other.entries);
  }

  get labels(): string[] {
    return this.entries.map((e) => e.label);
  }

  /** `info chardev`. */
  format(): string {
    return this.entries.map((e) => `${e.label}: filename=${e.filename()}`).join('\n');
  }
}
