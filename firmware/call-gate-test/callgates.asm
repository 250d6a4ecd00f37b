; pcvm call-gate test kernel: a multiboot (a.out kludge) image that enters ring 3 and calls
; back into ring 0 through a 32-bit call gate with 3 dword parameters and through a 16-bit
; call gate with 2 word parameters (SDM Vol. 3A 5.8.3-5.8.6), returning from the first with
; RETF 12. It records what each called procedure finds on its stack, and the caller's state
; after the return, then prints the 18 recorded dwords in hex on COM1, one per line, and
; leaves through isa-debug-exit (port 0xF4, value 0x10).
;
; test/machine/call-gate-kernel.test.ts compares pcvm's output with QEMU's (TCG) for the same
; image: QEMU is the independent oracle.
;
; Built by scripts/build-firmware.mjs:
;   nasm -f bin -w+all -o callgates.bin callgates.asm
;
; Recorded dwords (res + 4 * i):
;   0-6   the 32-bit gate's frame on the ring-0 stack: EIP, CS, 3 parameters, ESP, SS
;   7, 8  CS and SS inside the ring-0 procedure
;   9     untouched (0xDEADBEEF)
;   10-12 ESP, CS and SS back at ring 3 after RETF 12
;   13    ESP inside the ring-0 procedure
;   14-16 the 16-bit gate's frame as dwords: CS:IP, parameters 1:0, SS:SP
;   17    ESP inside the 16-bit procedure

        cpu     386
        bits    32

LOAD_ADDR       equ 0x100000
MB_MAGIC        equ 0x1BADB002
MB_FLAGS        equ 0x00010003      ; page-align modules, memory info, a.out kludge
COM1            equ 0x3F8
DEBUG_EXIT      equ 0xF4

SEL_CODE0       equ 0x08
SEL_DATA0       equ 0x10
SEL_CODE3       equ 0x18
SEL_DATA3       equ 0x20
SEL_TSS         equ 0x28
SEL_GATE32      equ 0x30
SEL_GATE16      equ 0x38
SEL_CODE16      equ 0x40

        org     LOAD_ADDR

multiboot_header:
        dd      MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
        dd      multiboot_header, LOAD_ADDR, file_end, bss_end, start

start:
        mov     esp, STACK0_TOP
        lgdt    [gdtr]
        jmp     SEL_CODE0:.reload
.reload:
        mov     ax, SEL_DATA0
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        mov     ax, SEL_TSS
        ltr     ax
        mov     ax, SEL_DATA3 | 3
        mov     ds, ax
        mov     es, ax
        push    dword SEL_DATA3 | 3
        push    dword USER_STACK_TOP
        push    dword 0x2               ; EFLAGS: IF clear
        push    dword SEL_CODE3 | 3
        push    dword user
        iret

; ---- ring 3 ----
user:
        push    dword 0x11111111
        push    dword 0x22222222
        push    dword 0x33333333
        call    SEL_GATE32 | 3:0
        mov     [res + 40], esp
        mov     eax, cs
        mov     [res + 44], eax
        mov     eax, ss
        mov     [res + 48], eax
        mov     [res + 52], ebx         ; the ring-0 ESP the procedure saw
        push    dword 0x12345678
        call    SEL_GATE16 | 3:0        ; does not come back (the 16-bit gate truncates EIP)
        hlt

; ---- ring 0 through the 32-bit gate ----
proc32:
        mov     ebx, esp
        mov     ecx, 7
        xor     esi, esi
.copy:  mov     eax, [esp + esi * 4]
        mov     [res + esi * 4], eax
        inc     esi
        loop    .copy
        mov     eax, cs
        mov     [res + 28], eax
        mov     eax, ss
        mov     [res + 32], eax
        retf    12

; ---- ring 0 through the 16-bit gate (SEL_CODE16 is based at LOAD_ADDR) ----
        bits    16
proc16:
        mov     ebx, esp
        mov     eax, [esp]
        mov     [dword res + 56], eax
        mov     eax, [esp + 4]
        mov     [dword res + 60], eax
        mov     eax, [esp + 8]
        mov     [dword res + 64], eax
        mov     [dword res + 68], ebx
        jmp     dword SEL_CODE0:report
        bits    32

; ---- report on COM1, then isa-debug-exit ----
report:
        mov     ax, SEL_DATA0
        mov     ds, ax
        mov     esi, res
        mov     ecx, 18
.line:  lodsd
        call    print_hex
        mov     al, 10
        call    putc
        loop    .line
        call    tx_empty
        mov     dx, DEBUG_EXIT
        mov     al, 0x10
        out     dx, al
        hlt

print_hex:                              ; EAX as 8 upper-case hex digits
        push    ecx
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
        pop     ecx
        ret

putc:                                   ; waits for the transmitter to be empty, then sends AL
        push    edx
        call    tx_empty
        mov     dx, COM1
        out     dx, al
        pop     edx
        ret

; Waits until LSR.TEMT (bit 6): every byte sent so far has left the UART. Before the
; isa-debug-exit write this keeps an emulator from exiting with output still in its UART
; (QEMU retries a write its chardev refused, and exit drops what it still holds).
tx_empty:
        push    eax
        mov     dx, COM1 + 5
.wait:  in      al, dx
        test    al, 0x40
        jz      .wait
        pop     eax
        ret

; ---- GDT (SDM Vol. 3A Figures 3-8, 5-8, 7-3) ----
        times   (8 - ($ - $$) % 8) % 8 db 0
TSS_ADDR        equ tss - $$ + LOAD_ADDR
PROC32_ADDR     equ proc32 - $$ + LOAD_ADDR
gdt:
        dq      0
        dq      0x00CF9A000000FFFF      ; 08 code, DPL 0
        dq      0x00CF92000000FFFF      ; 10 data, DPL 0
        dq      0x00CFFA000000FFFF      ; 18 code, DPL 3
        dq      0x00CFF2000000FFFF      ; 20 data, DPL 3
        dw      0x67, TSS_ADDR & 0xFFFF ; 28 available 32-bit TSS
        db      (TSS_ADDR >> 16) & 0xFF, 0x89, 0, TSS_ADDR >> 24
        dw      PROC32_ADDR & 0xFFFF, SEL_CODE0 ; 30 32-bit call gate, DPL 3, 3 parameters
        db      3, 0xEC
        dw      PROC32_ADDR >> 16
        dw      proc16 - $$, SEL_CODE16 ; 38 16-bit call gate, DPL 3, 2 parameters
        db      2, 0xE4
        dw      0
        dw      0xFFFF, LOAD_ADDR & 0xFFFF ; 40 16-bit code, DPL 0, base LOAD_ADDR
        db      (LOAD_ADDR >> 16) & 0xFF, 0x9A, 0, LOAD_ADDR >> 24
gdt_end:
gdtr:
        dw      gdt_end - gdt - 1
        dd      gdt

tss:
        dd      0, STACK0_TOP, SEL_DATA0 ; link, ESP0, SS0
        times   0x68 - 12 db 0

res:
        times   18 dd 0xDEADBEEF
file_end:

; Stacks past the image, in the bss the loader clears.
USER_STACK_TOP  equ LOAD_ADDR + 0x2000
STACK0_TOP      equ LOAD_ADDR + 0x3000
bss_end         equ STACK0_TOP
