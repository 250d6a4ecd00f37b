/**
 * The contract between a NIC (virtio-net) and a network back end (`-netdev user`,
 * `-netdev socket`): whole Ethernet frames, without the FCS, both ways.
 *
 * Back ends deliver frames asynchronously (host sockets) through `onReceive`; the NIC says
 * whether it can take one now (`canReceive`) so that back ends queue — boundedly — instead of
 * dropping, and calls `receiveReady()` when guest buffers become available again.
 */

export interface NetBackend {
  /** The netdev id (`-netdev ...,id=ID`). */
  readonly id: string;
  /** `info network` line, e.g. "user.0: index=0,type=user,net=10.0.2.0,restrict=off". */
  describe(): string;
  /** The NIC sends a frame to the network. Never throws; a frame it cannot handle is dropped. */
  send(frame: Uint8Array): void;
  /** Connects the NIC; frames for the guest go to `peer.receive`. */
  attach(peer: NetPeer): void;
  /** The NIC has room again: deliver queued frames. */
  receiveReady(): void;
  /** Closes host sockets and timers. Idempotent. */
  close(): void;
}

export interface NetPeer {
  /** Whether the NIC can take a frame now (it has a free receive buffer). */
  canReceive(): boolean;
  /** A frame for the guest; returns false if it could not be taken (the back end keeps it). */
  receive(frame: Uint8Array): boolean;
}

/** Queue bound per direction: a flooding peer or guest cannot grow memory beyond this. */
export const NET_QUEUE_MAX_FRAMES = 1024;
