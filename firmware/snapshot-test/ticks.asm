; pcvm snapshot test kernel: a small multiboot v1 guest (a.out kludge, loaded at 1 MiB) that
; keeps every timer of the PC busy at once, so that a snapshot taken in the middle of its run
; must bring back the PIT, the 8259 pair, the RTC and the local APIC timer exactly:
;  - PIT counter 0, mode 2, divisor 119 (~10 kHz) on IRQ 0 → vector 0x20
;  - RTC periodic interrupt at 8192 Hz (register A rate 3) on IRQ 8 → vector 0x28
;  - LAPIC timer, periodic, divide by 16, initial count 5000 (80 µs at pcvm's 1 GHz bus) → 0x40
; The main loop counts iterations ("work"), scribbles over 64 pages of RAM, halts now and then
; (so -icount warps time), and every 16 PIT ticks prints
;   p=<pit ticks> r=<rtc ticks> l=<lapic ticks> w=<work>
; in hex on COM1. `work` at each line depends on exactly when every interrupt arrived, so two
; runs print the same lines only if their interrupts came at the same instructions. After 128
; PIT ticks it prints "done" and leaves through isa-debug-exit (0x10 → exit status 33).
;
; Built by scripts/build-firmware.mjs: nasm -f bin -w+all -o ticks.bin ticks.asm

        cpu     686
        bits    32

LOAD_ADDR       equ 0x100000
MB_MAGIC        equ 0x1BADB002
MB_FLAGS        equ 0x00010000      ; a.out kludge: the header gives the load addresses
COM1            equ 0x3F8
DEBUG_EXIT      equ 0xF4
LAPIC           equ 0xFEE00000
DATA            equ 0x180000        ; IDT, counters and stack: pages apart from the code, so
                                    ; that a JIT's translated code is not invalidated by them
BUFFER          equ 0x200000        ; 64 pages of RAM the loop writes
BUFFER_WORDS    equ 64 * 1024
PIT_DIVISOR     equ 119
LAPIC_COUNT     equ 5000
PRINT_EVERY     equ 16              ; PIT ticks between lines (a power of two)
PIT_LIMIT       equ 128

        org     LOAD_ADDR

multiboot_header:
        dd      MB_MAGIC
        dd      MB_FLAGS
        dd      -(MB_MAGIC + MB_FLAGS)
        dd      multiboot_header    ; header_addr
        dd      LOAD_ADDR           ; load_addr
        dd      file_end            ; load_end_addr
        dd      file_end            ; bss_end_addr (no bss: the data lives at DATA)
        dd      start               ; entry_addr

start:
        mov     edi, DATA
        mov     ecx, (data_end - DATA) / 4
        xor     eax, eax
        cld
        rep     stosd
        mov     esp, stack_top
        call    setup_idt
        lidt    [idt_descriptor]
        call    setup_pic
        call    setup_pit
        call    setup_rtc
        call    setup_lapic
        mov     esi, s_banner
        call    print
        sti

main_loop:
        inc     dword [work]
        ; scribble: BUFFER[work mod 64K words] = work ^ pit_ticks
        mov     eax, [work]
        mov     ebx, eax
        and     ebx, BUFFER_WORDS - 1
        xor     eax, [pit_ticks]
        mov     [BUFFER + ebx * 4], eax
        ; halt once every 1024 iterations: -icount warps to the next timer
        test    dword [work], 0x3FF
        jnz     .no_halt
        hlt
.no_halt:
        mov     eax, [pit_ticks]
        cmp     eax, PIT_LIMIT
        jae     finish
        mov     ecx, eax
        and     ecx, ~(PRINT_EVERY - 1)
        cmp     ecx, [last_print]
        je      main_loop
        mov     [last_print], ecx
        call    report
        jmp     main_loop

finish:
        cli
        call    report
        mov     esi, s_done
        call    print
        mov     al, 0x10
        out     DEBUG_EXIT, al
        hlt
        jmp     finish

; "p=… r=… l=… w=…\n"
report:
        mov     esi, s_p
        call    print
        mov     eax, [pit_ticks]
        call    print_hex
        mov     esi, s_r
        call    print
        mov     eax, [rtc_ticks]
        call    print_hex
        mov     esi, s_l
        call    print
        mov     eax, [lapic_ticks]
        call    print_hex
        mov     esi, s_w
        call    print
        mov     eax, [work]
        call    print_hex
        mov     esi, s_nl
        call    print
        ret

; --- interrupt handlers ---
pit_isr:
        push    eax
        inc     dword [pit_ticks]
        mov     al, 0x20
        out     0x20, al
        pop     eax
        iret

rtc_isr:
        push    eax
        inc     dword [rtc_ticks]
        mov     al, 0x0C            ; read register C: acknowledges the periodic flag
        out     0x70, al
        in      al, 0x71
        mov     al, 0x20
        out     0xA0, al
        out     0x20, al
        pop     eax
        iret

lapic_isr:
        inc     dword [lapic_ticks]
        mov     dword [LAPIC + 0xB0], 0     ; EOI
        iret

ignore_isr:
        iret

; --- set-up ---
setup_idt:
        mov     edi, idt
        mov     ecx, 256
.fill:
        mov     eax, ignore_isr
        call    set_gate
        add     edi, 8
        loop    .fill
        mov     edi, idt + 0x20 * 8
        mov     eax, pit_isr
        call    set_gate
        mov     edi, idt + 0x28 * 8
        mov     eax, rtc_isr
        call    set_gate
        mov     edi, idt + 0x40 * 8
        mov     eax, lapic_isr
        call    set_gate
        ret

; 32-bit interrupt gate at [edi] to handler eax, selector = the boot loader's CS
set_gate:
        mov     [edi], ax
        mov     dx, cs
        mov     [edi + 2], dx
        mov     word [edi + 4], 0x8E00
        shr     eax, 16
        mov     [edi + 6], ax
        ret

setup_pic:
        mov     al, 0x11
        out     0x20, al
        out     0xA0, al
        mov     al, 0x20            ; master vectors 0x20-0x27
        out     0x21, al
        mov     al, 0x28            ; slave vectors 0x28-0x2F
        out     0xA1, al
        mov     al, 4
        out     0x21, al
        mov     al, 2
        out     0xA1, al
        mov     al, 1
        out     0x21, al
        out     0xA1, al
        mov     al, 0xFA            ; IRQ 0 and the cascade
        out     0x21, al
        mov     al, 0xFE            ; IRQ 8
        out     0xA1, al
        ret

setup_pit:
        mov     al, 0x34            ; counter 0, lobyte/hibyte, mode 2
        out     0x43, al
        mov     al, PIT_DIVISOR & 0xFF
        out     0x40, al
        mov     al, PIT_DIVISOR >> 8
        out     0x40, al
        ret

setup_rtc:
        mov     al, 0x8A            ; register A (NMI masked while we program)
        out     0x70, al
        mov     al, 0x23            ; 32.768 kHz time base, rate 3 = 8192 Hz
        out     0x71, al
        mov     al, 0x8B
        out     0x70, al
        in      al, 0x71
        or      al, 0x40            ; PIE
        mov     ah, al
        mov     al, 0x8B
        out     0x70, al
        mov     al, ah
        out     0x71, al
        mov     al, 0x0C
        out     0x70, al
        in      al, 0x71
        ret

setup_lapic:
        mov     dword [LAPIC + 0xF0], 0x1FF         ; SVR: enabled, spurious vector 0xFF
        mov     dword [LAPIC + 0x350], 0x700        ; LINT0: ExtINT (the 8259 comes through)
        mov     dword [LAPIC + 0x3E0], 0x3          ; divide by 16
        mov     dword [LAPIC + 0x320], 0x20040      ; timer: periodic, vector 0x40
        mov     dword [LAPIC + 0x380], LAPIC_COUNT
        ret

; --- COM1 output ---
print:
        lodsb
        test    al, al
        jz      .done
        call    putc
        jmp     print
.done:
        ret

putc:
        push    eax
        push    edx
        mov     ah, al
        mov     dx, COM1 + 5
.wait:
        in      al, dx
        test    al, 0x20
        jz      .wait
        mov     dx, COM1
        mov     al, ah
        out     dx, al
        pop     edx
        pop     eax
        ret

print_hex:
        mov     ecx, 8
.digit:
        rol     eax, 4
        mov     ebx, eax
        and     ebx, 0xF
        push    eax
        mov     al, [hex_digits + ebx]
        call    putc
        pop     eax
        loop    .digit
        ret

hex_digits:     db '0123456789abcdef'
s_banner:       db 'ticks: PIT, RTC and LAPIC timers running', 10, 0
s_p:            db 'p=', 0
s_r:            db ' r=', 0
s_l:            db ' l=', 0
s_w:            db ' w=', 0
s_nl:           db 10, 0
s_done:         db 'done', 10, 0

        times   (8 - ($ - $$) % 8) % 8 db 0
idt_descriptor:
        dw      256 * 8 - 1
        dd      idt
        times   (8 - ($ - $$) % 8) % 8 db 0
file_end:

        absolute DATA
idt:            resb 256 * 8
pit_ticks:      resd 1
rtc_ticks:      resd 1
lapic_ticks:    resd 1
work:           resd 1
last_print:     resd 1
                resb 4096
stack_top:
data_end:
