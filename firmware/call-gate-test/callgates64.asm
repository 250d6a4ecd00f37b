; pcvm 64-bit call-gate test kernel: a multiboot (a.out kludge) image that enters IA-32e mode,
; goes to ring 3 in 64-bit mode and calls ring 0 through a 16-byte 64-bit call gate (SDM Vol.
; 3A 5.8.3.1, 5.8.5), returns with REX.W RETF, then calls the same gate from ring-3
; compatibility mode. Each called procedure records its stack; the 20 recorded quadwords are
; printed in hex on COM1 (high dword first, one quadword per line), then isa-debug-exit (port
; 0xF4, value 0x10).
;
; test/machine/call-gate-kernel.test.ts compares pcvm's output with QEMU's for the same image.
;
; Built by scripts/build-firmware.mjs:
;   nasm -f bin -w+all -o callgates64.bin callgates64.asm
;
; Recorded quadwords (res + 8 * i):
;   0-3   the frame on RSP0 after the call from 64-bit ring 3: RIP, CS, RSP, SS
;   4-6   CS, SS selector and RSP inside the procedure
;   7-9   RSP, CS, SS back at ring 3 after RETFQ
;   10-13 the frame after the call from ring-3 compatibility mode: RIP, CS, RSP, SS
;   14-16 CS, SS selector and RSP inside the procedure the second time
;   17-19 untouched (0xDEADBEEFDEADBEEF)

        cpu     x64
        bits    32

LOAD_ADDR       equ 0x100000
MB_MAGIC        equ 0x1BADB002
MB_FLAGS        equ 0x00010003
COM1            equ 0x3F8
DEBUG_EXIT      equ 0xF4

SEL_CODE64      equ 0x08
SEL_DATA0       equ 0x10
SEL_CODE32_3    equ 0x18            ; DPL 3 compatibility-mode code
SEL_DATA3       equ 0x20
SEL_CODE64_3    equ 0x28
SEL_TSS         equ 0x30            ; 16 bytes
SEL_GATE        equ 0x40            ; 16 bytes: 64-bit call gate, DPL 3, to SEL_CODE64:proc

PML4            equ 0x110000
PDPT            equ 0x111000
PD              equ 0x112000

        org     LOAD_ADDR

multiboot_header:
        dd      MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
        dd      multiboot_header, LOAD_ADDR, file_end, bss_end, start

start:
        mov     esp, STACK0_TOP
        ; Identity-map the first 2 MiB with one large page, user-accessible (SDM 4.5).
        mov     edi, PML4
        mov     ecx, 0x3000 / 4
        xor     eax, eax
        rep     stosd
        mov     dword [PML4], PDPT | 7
        mov     dword [PDPT], PD | 7
        mov     dword [PD], 0x87
        mov     eax, PML4
        mov     cr3, eax
        mov     eax, cr4
        or      eax, 0x20           ; PAE
        mov     cr4, eax
        mov     ecx, 0xC0000080     ; IA32_EFER
        rdmsr
        or      eax, 0x100          ; LME
        wrmsr
        mov     eax, cr0
        or      eax, 0x80000000     ; PG
        mov     cr0, eax
        lgdt    [gdtr]
        jmp     SEL_CODE64:long_entry

        bits    64
long_entry:
        mov     ax, SEL_DATA0
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        mov     ax, SEL_TSS
        ltr     ax
        push    SEL_DATA3 | 3
        push    USER_STACK_TOP
        push    0x2
        push    SEL_CODE64_3 | 3
        push    user64
        iretq

; ---- ring 3, 64-bit mode ----
user64:
        push    0x11
        call    far dword [rel gate_ptr]
        mov     [rel res + 56], rsp
        mov     eax, cs
        mov     [rel res + 64], rax
        mov     eax, ss
        mov     [rel res + 72], rax
        ; to ring-3 compatibility mode
        push    SEL_CODE32_3 | 3
        push    user32
        retfq

; ---- ring 3, compatibility mode ----
        bits    32
user32:
        call    SEL_GATE | 3:0
        hlt                         ; not reached: the procedure reports

; ---- ring 0 through the gate (64-bit) ----
        bits    64
proc:
        cmp     byte [rel second], 0
        jne     .second
        mov     byte [rel second], 1
        lea     rdi, [rel res]
        call    record
        retfq
.second:
        lea     rdi, [rel res + 80]
        call    record
        jmp     report

record:                             ; frame above the return address, CS, SS, RSP
        lea     rsi, [rsp + 8]
        mov     ecx, 4
.copy:  mov     rax, [rsi]
        mov     [rdi], rax
        add     rsi, 8
        add     rdi, 8
        loop    .copy
        mov     eax, cs
        mov     [rdi], rax
        mov     eax, ss
        mov     [rdi + 8], rax
        lea     rax, [rsp + 8]
        mov     [rdi + 16], rax
        ret

report:
        lea     rsi, [rel res]
        mov     ecx, 20
.line:  mov     rax, [rsi]
        shr     rax, 32
        call    print_hex
        mov     eax, [rsi]
        call    print_hex
        mov     al, 10
        call    putc
        add     rsi, 8
        loop    .line
        call    tx_empty
        mov     dx, DEBUG_EXIT
        mov     al, 0x10
        out     dx, al
        hlt

print_hex:                          ; EAX as 8 upper-case hex digits
        push    rcx
        mov     ecx, 8
        mov     edx, eax
.digit: rol     edx, 4
        mov     al, dl
        and     al, 15
        add     al, '0'
        cmp     al, '9'
        jbe     .out
        add     al, 7
.out:   call    putc
        loop    .digit
        pop     rcx
        ret

putc:                                   ; waits for the transmitter to be empty, then sends AL
        push    rdx
        call    tx_empty
        mov     dx, COM1
        out     dx, al
        pop     rdx
        ret

; Waits until LSR.TEMT (bit 6): every byte sent so far has left the UART. Before the
; isa-debug-exit write this keeps an emulator from exiting with output still in its UART
; (QEMU retries a write its chardev refused, and exit drops what it still holds).
tx_empty:
        push    rax
        mov     dx, COM1 + 5
.wait:  in      al, dx
        test    al, 0x40
        jz      .wait
        pop     rax
        ret

; ---- data ----
gate_ptr:
        dd      0                   ; offset (ignored for a gate)
        dw      SEL_GATE | 3
second:
        db      0

        times   (8 - ($ - $$) % 8) % 8 db 0
TSS_ADDR        equ tss - $$ + LOAD_ADDR
PROC_ADDR       equ proc - $$ + LOAD_ADDR
gdt:
        dq      0
        dq      0x00AF9A000000FFFF  ; 08 64-bit code, DPL 0
        dq      0x00CF92000000FFFF  ; 10 data, DPL 0
        dq      0x00CFFA000000FFFF  ; 18 32-bit code, DPL 3
        dq      0x00CFF2000000FFFF  ; 20 data, DPL 3
        dq      0x00AFFA000000FFFF  ; 28 64-bit code, DPL 3
        dw      0x67, TSS_ADDR & 0xFFFF ; 30 available 64-bit TSS (16 bytes)
        db      (TSS_ADDR >> 16) & 0xFF, 0x89, 0, TSS_ADDR >> 24
        dd      0, 0
        dw      PROC_ADDR & 0xFFFF, SEL_CODE64 ; 40 64-bit call gate, DPL 3 (Figure 5-9)
        db      0, 0xEC
        dw      PROC_ADDR >> 16
        dd      0, 0                ; offset 63:32 = 0; upper type field 0
gdt_end:
gdtr:
        dw      gdt_end - gdt - 1
        dd      gdt

tss:
        dd      0
        dq      STACK0_TOP          ; RSP0
        times   0x68 - 12 db 0

        times   (8 - ($ - $$) % 8) % 8 db 0
res:
        times   40 dd 0xDEADBEEF
file_end:

; Stacks past the image, in the bss the loader clears.
USER_STACK_TOP  equ LOAD_ADDR + 0x2000
STACK0_TOP      equ LOAD_ADDR + 0x3000
bss_end         equ STACK0_TOP
