; pcvm demo firmware
; =================
;
; The guest that pcvm runs when no other guest is named.  It is a 64 KiB
; firmware image in the style of a PC BIOS: the emulator (like QEMU with
; -bios) maps it at physical 0xFFFF0000 and aliases it at 0xF0000-0xFFFFF.
; The CPU starts at the reset vector (offset 0xFFF0), which far-jumps into
; segment F000.  There are no BIOS services: this program is the firmware.
;
; It brings up the 8259A PICs and the COM1 16550A UART, reads the machine
; configuration from QEMU's fw_cfg interface, prints a banner on COM1 and then
; runs a small interactive command loop on the serial console.  Serial input
; is interrupt driven (IRQ4 into a ring buffer); an idle guest sits in HLT.
;
; Build:  node scripts/build-firmware.mjs   (nasm -f bin)
;
; Only 16-bit real-mode integer code: 8086..80386 instructions (32-bit
; registers through the operand-size prefix) plus CPUID, and RDMSR/WRMSR of
; IA32_APIC_BASE when CPUID reports MSRs (see apic_disable).  No FPU, no
; protected mode.

        bits 16
        cpu 386                 ; refuse anything newer than a 386 ...
        org 0                   ; ... the image is addressed as F000:0000

%macro CPUID_ 0                 ; ... except CPUID (0F A2), emitted by hand
        db 0x0F, 0xA2
%endmacro
%macro RDMSR_ 0                 ; ... and RDMSR/WRMSR (0F 32 / 0F 30), used only
        db 0x0F, 0x32           ;     when CPUID reports MSRs
%endmacro
%macro WRMSR_ 0
        db 0x0F, 0x30
%endmacro

; ---------------------------------------------------------------------------
; Hardware
; ---------------------------------------------------------------------------
ROM_SEG         equ 0xF000

COM1            equ 0x3F8
UART_RBR        equ COM1+0          ; receive buffer (read, DLAB=0)
UART_THR        equ COM1+0          ; transmit holding (write, DLAB=0)
UART_DLL        equ COM1+0          ; divisor latch low (DLAB=1)
UART_IER        equ COM1+1          ; interrupt enable (DLAB=0)
UART_DLM        equ COM1+1          ; divisor latch high (DLAB=1)
UART_IIR        equ COM1+2          ; interrupt identification (read)
UART_FCR        equ COM1+2          ; FIFO control (write)
UART_LCR        equ COM1+3          ; line control
UART_MCR        equ COM1+4          ; modem control
UART_LSR        equ COM1+5          ; line status
UART_MSR        equ COM1+6          ; modem status
LSR_DR          equ 0x01            ; data ready
LSR_THRE        equ 0x20            ; transmit holding register empty
LSR_TEMT        equ 0x40            ; transmitter empty

PIC1_CMD        equ 0x20
PIC1_DATA       equ 0x21
PIC2_CMD        equ 0xA0
PIC2_DATA       equ 0xA1
PIC_EOI         equ 0x20            ; OCW2 non-specific EOI
PIC1_BASE       equ 0x08            ; IRQ0-7  -> vectors 08h-0Fh
PIC2_BASE       equ 0x70            ; IRQ8-15 -> vectors 70h-77h
IRQ4_VECTOR     equ PIC1_BASE + 4   ; COM1

FW_CFG_SEL      equ 0x510           ; selector, written as a 16-bit word
FW_CFG_DATA     equ 0x511           ; data, read as bytes
FW_CFG_SIGNATURE equ 0x0000         ; "QEMU"
FW_CFG_RAM_SIZE equ 0x0003          ; u64 little endian
FW_CFG_NB_CPUS  equ 0x0005          ; u16 little endian
FW_CFG_FILE_DIR equ 0x0019          ; u32 BE count, then 64-byte entries

PCI_CFG_ADDR    equ 0xCF8           ; configuration mechanism #1
PCI_CFG_DATA    equ 0xCFC
PIIX4_PM        equ 0x80000000 | (0 << 16) | (1 << 11) | (3 << 8) ; 00:01.3
PIIX4_PMBA      equ 0x40            ; PM I/O base address register
PIIX4_PMREGMISC equ 0x80            ; bit 0: PM I/O space enable
PM_BASE         equ 0x600
PM1A_CNT        equ PM_BASE + 0x04
SLP_EN          equ 1 << 13         ; with SLP_TYP = 0: S5 on QEMU's PIIX4

RESET_CONTROL   equ 0xCF9           ; PIIX3 reset control register
KBC_STATUS      equ 0x64            ; 8042 status / command port
KBC_CMD_RESET   equ 0xFE            ; pulse the CPU reset line
DEBUG_EXIT      equ 0xF4            ; isa-debug-exit (optional)

; ---------------------------------------------------------------------------
; RAM layout (segment 0; the IVT occupies 0000-03FF)
; ---------------------------------------------------------------------------
RAM_START       equ 0x0500
rx_head         equ 0x0500          ; byte: ring buffer write index (ISR)
rx_tail         equ 0x0501          ; byte: ring buffer read index
last_was_cr     equ 0x0502          ; byte: previous input byte was CR
out_col         equ 0x0503          ; byte: output column (for padding/wrap)
fw_present      equ 0x0504          ; byte: fw_cfg signature seen
ram_mib         equ 0x0508          ; dword: RAM size in MiB
cpu_count       equ 0x050C          ; word: CPU count
fw_file_sel     equ 0x050E          ; word: selector of a fw_cfg file
fw_file_size    equ 0x0510          ; dword: size of a fw_cfg file
cpuid_sig       equ 0x0514          ; dword: CPUID.1 EAX
cpuid_edx       equ 0x0518          ; dword: CPUID.1 EDX
cpuid_ecx       equ 0x051C          ; dword: CPUID.1 ECX
vendor_buf      equ 0x0520          ; 12 chars + NUL
version_buf     equ 0x0540          ; VERSION_MAX chars + NUL
VERSION_MAX     equ 32
fw_name_buf     equ 0x0580          ; 56 chars + NUL
brand_buf       equ 0x05C0          ; 48 chars + NUL
rx_buf          equ 0x0600          ; 256-byte receive ring buffer
line_buf        equ 0x0700          ; LINE_MAX chars + NUL
LINE_MAX        equ 120
RAM_END         equ 0x0800
STACK_TOP       equ 0x7C00          ; stack grows down from 0000:7C00

; ===========================================================================
; Code (CS = F000 after the reset jump; DS = ES = SS = 0 throughout, so data
; in ROM is always addressed with an explicit CS: override)
; ===========================================================================
rom_start:
        db "pcvm demo firmware", 0

entry:
        cli
        cld
        xor ax, ax
        mov ss, ax
        mov sp, STACK_TOP
        mov ds, ax
        mov es, ax

        ; Clear our variables (RAM survives a reset on a real machine).
        mov di, RAM_START
        mov cx, (RAM_END - RAM_START) / 2
        rep stosw

        call ivt_init
        call pic_init
        call apic_disable
        call uart_init
        call fw_cfg_init
        call print_banner
        sti

main_loop:
        mov si, str_prompt
        call puts
        call read_line
        call run_line
        jmp main_loop

; ---------------------------------------------------------------------------
; Interrupts
; ---------------------------------------------------------------------------

; Fill the real-mode IVT: IRQ vectors get handlers that acknowledge the PIC,
; everything else a bare IRET; then hook IRQ4 (COM1).
ivt_init:
        xor di, di
        xor bx, bx                      ; bx = vector number
.next:
        mov ax, int_ignore
        cmp bx, PIC1_BASE
        jb .store
        cmp bx, PIC1_BASE + 7
        ja .slave
        mov ax, irq_master_default
        jmp .store
.slave:
        cmp bx, PIC2_BASE
        jb .store
        cmp bx, PIC2_BASE + 7
        ja .store
        mov ax, irq_slave_default
.store:
        stosw                           ; offset
        mov ax, ROM_SEG
        stosw                           ; segment
        inc bx
        cmp bx, 256
        jb .next
        mov word [IRQ4_VECTOR * 4], com1_isr
        ret

; Initialise both 8259As and mask everything but IRQ4 (COM1) and IRQ2 (the
; cascade to the slave).
pic_init:
        mov al, 0x11                    ; ICW1: edge, cascade, ICW4 follows
        out PIC1_CMD, al
        out PIC2_CMD, al
        mov al, PIC1_BASE               ; ICW2: vector bases
        out PIC1_DATA, al
        mov al, PIC2_BASE
        out PIC2_DATA, al
        mov al, 0x04                    ; ICW3: slave on master IRQ2
        out PIC1_DATA, al
        mov al, 0x02                    ; ICW3: slave identity 2
        out PIC2_DATA, al
        mov al, 0x01                    ; ICW4: 8086 mode, normal EOI
        out PIC1_DATA, al
        out PIC2_DATA, al
        mov al, ~((1 << 4) | (1 << 2)) & 0xFF
        out PIC1_DATA, al               ; OCW1: master mask
        mov al, 0xFF
        out PIC2_DATA, al               ; OCW1: slave mask (all)
        ret

; Route the 8259A's INTR output straight to the CPU.  After reset the local
; APIC (if any) is enabled with LINT0 masked, and a firmware that leaves it so
; never sees a PIC interrupt.  Real-mode code cannot reach the APIC's MMIO
; page to program LINT0 as ExtINT (virtual wire mode), so instead clear the
; global enable bit in IA32_APIC_BASE: with the APIC hardware-disabled the
; processor behaves like one without an APIC and the PIC drives INTR directly
; (Intel SDM vol. 3A, "Local APIC Status and Location").  As a side effect
; CPUID.1:EDX.APIC then reads as clear.
;
; Done when CPUID reports MSRs (RDMSR/WRMSR exist).  The APIC bit of CPUID is
; not required: QEMU leaves it clear after a reset that follows our disabling
; although the reset re-enabled the APIC.  A CPU without IA32_APIC_BASE raises
; #GP, which a temporary handler turns into "skip the instruction".
IA32_APIC_BASE  equ 0x1B
APIC_GLOBAL_ENABLE equ 1 << 11
GP_VECTOR       equ 0x0D
apic_disable:
        call has_cpuid
        jc .done
        xor eax, eax
        CPUID_
        cmp eax, 1
        jb .done
        mov eax, 1
        CPUID_
        test edx, 1 << 5                ; MSR (RDMSR/WRMSR)
        jz .done
        push word [GP_VECTOR * 4]
        mov word [GP_VECTOR * 4], skip_msr_insn
        xor eax, eax                    ; stays 0 if RDMSR faults
        mov ecx, IA32_APIC_BASE
        RDMSR_
        test eax, APIC_GLOBAL_ENABLE
        jz .restore
        and eax, ~APIC_GLOBAL_ENABLE
        WRMSR_
.restore:
        pop word [GP_VECTOR * 4]
.done:
        ret

; #GP handler used only around RDMSR/WRMSR: step over the 2-byte instruction.
skip_msr_insn:
        push bp
        mov bp, sp
        add word [bp + 2], 2            ; the faulting IP
        pop bp
        iret

; Default handler for software interrupts and CPU exceptions.
int_ignore:
        iret

; Default handler for IRQ0-7 (other than IRQ4).
irq_master_default:
        push ax
        mov al, PIC_EOI
        out PIC1_CMD, al
        pop ax
        iret

; Default handler for IRQ8-15.
irq_slave_default:
        push ax
        mov al, PIC_EOI
        out PIC2_CMD, al
        out PIC1_CMD, al
        pop ax
        iret

; IRQ4: move every received byte from the UART into the ring buffer.  When
; the buffer is full further bytes are dropped.
com1_isr:
        push ax
        push bx
        push cx
        push dx
        push ds
        xor ax, ax
        mov ds, ax
        mov cx, 256                     ; bound, in case LSR reads stuck
        xor bx, bx
.drain:
        mov dx, UART_LSR
        in al, dx
        test al, LSR_DR
        jz .done
        mov dx, UART_RBR
        in al, dx
        mov bl, [rx_head]
        mov [rx_buf + bx], al           ; the slot at head is always free
        inc bl
        cmp bl, [rx_tail]
        je .full                        ; would become "empty": drop byte
        mov [rx_head], bl
.full:
        loop .drain
.done:
        mov al, PIC_EOI
        out PIC1_CMD, al
        pop ds
        pop dx
        pop cx
        pop bx
        pop ax
        iret

; ---------------------------------------------------------------------------
; COM1
; ---------------------------------------------------------------------------

; 115200 8N1, FIFOs on (trigger level 1), receive-data interrupt enabled.
uart_init:
        mov dx, UART_IER
        xor al, al
        out dx, al                      ; no interrupts while configuring
        mov dx, UART_LCR
        mov al, 0x80                    ; DLAB
        out dx, al
        mov dx, UART_DLL
        mov al, 1                       ; divisor 1 = 115200 baud
        out dx, al
        mov dx, UART_DLM
        xor al, al
        out dx, al
        mov dx, UART_LCR
        mov al, 0x03                    ; 8 data bits, no parity, 1 stop bit
        out dx, al
        mov dx, UART_FCR
        mov al, 0x07                    ; enable + clear both FIFOs
        out dx, al
        mov dx, UART_MCR
        mov al, 0x0B                    ; DTR, RTS, OUT2 (IRQ gate)
        out dx, al
        mov dx, UART_LSR                ; clear any stale status
        in al, dx
        mov dx, UART_RBR
        in al, dx
        mov dx, UART_IIR
        in al, dx
        mov dx, UART_MSR
        in al, dx
        mov dx, UART_IER
        mov al, 0x01                    ; received data available
        out dx, al
        ret

; Send AL, waiting for THRE.  Keeps track of the output column.
putc:
        push ax
        push dx
        mov ah, al
        mov dx, UART_LSR
.wait:
        in al, dx
        cmp al, 0xFF                    ; no UART at all: don't hang
        je .send
        test al, LSR_THRE
        jz .wait
.send:
        mov al, ah
        mov dx, UART_THR
        out dx, al
        cmp al, 13
        je .cr
        cmp al, 8
        je .bs
        cmp al, 0x20
        jb .done
        inc byte [out_col]
        jmp .done
.cr:
        mov byte [out_col], 0
        jmp .done
.bs:
        cmp byte [out_col], 0
        je .done
        dec byte [out_col]
.done:
        pop dx
        pop ax
        ret

; Wait (bounded) until the transmitter has sent everything.
uart_flush:
        push ax
        push cx
        push dx
        mov dx, UART_LSR
        xor cx, cx                      ; 65536 polls at most
.wait:
        in al, dx
        test al, LSR_TEMT
        jnz .done
        loop .wait
.done:
        pop dx
        pop cx
        pop ax
        ret

; Print the NUL-terminated string at CS:SI.
puts:
        push ax
        push si
.next:
        mov al, [cs:si]
        test al, al
        jz .done
        call putc
        inc si
        jmp .next
.done:
        pop si
        pop ax
        ret

; Print the NUL-terminated string at DS:SI (RAM).
puts_ram:
        push ax
        push si
.next:
        mov al, [si]
        test al, al
        jz .done
        call putc
        inc si
        jmp .next
.done:
        pop si
        pop ax
        ret

; Print CS:SI, then CR LF.
putsln:
        call puts
        ; fall through
crlf:
        push ax
        mov al, 13
        call putc
        mov al, 10
        call putc
        pop ax
        ret

; Print spaces until the output column reaches AL.
pad_to:
        push ax
        push bx
        mov bl, al
.next:
        cmp [out_col], bl
        jae .done
        mov al, ' '
        call putc
        jmp .next
.done:
        pop bx
        pop ax
        ret

; Print EAX as an unsigned decimal number.
print_dec:
        push eax
        push ebx
        push cx
        push edx
        mov ebx, 10
        xor cx, cx
.divide:
        xor edx, edx
        div ebx
        push dx
        inc cx
        test eax, eax
        jnz .divide
.print:
        pop ax
        add al, '0'
        call putc
        loop .print
        pop edx
        pop cx
        pop ebx
        pop eax
        ret

; Print the low CX hex digits of EAX (CX = 1..8), lower case, no prefix.
print_hex:
        push eax
        push cx
        push bx
        mov bx, cx
        mov cl, 8
        sub cl, bl
        shl cl, 2
        shl eax, cl                     ; first digit to print at the top
        mov cx, bx
.digit:
        rol eax, 4
        push ax
        and al, 0x0F
        add al, '0'
        cmp al, '9'
        jbe .out
        add al, 'a' - '0' - 10
.out:
        call putc
        pop ax
        loop .digit
        pop bx
        pop cx
        pop eax
        ret

; ---------------------------------------------------------------------------
; Console input
; ---------------------------------------------------------------------------

; Return the next received byte in AL, sleeping in HLT while there is none.
getc:
        push bx
.wait:
        cli                             ; check and sleep without a race:
        mov bl, [rx_tail]
        cmp bl, [rx_head]
        jne .have
        sti                             ; STI takes effect after the HLT
        hlt                             ; starts, so no IRQ is missed
        jmp .wait
.have:
        xor bh, bh
        mov al, [rx_buf + bx]
        inc bl
        mov [rx_tail], bl
        sti
        pop bx
        ret

; Read one line into line_buf (NUL-terminated) with echo and backspace.
; CR or LF ends the line; a LF directly after a CR is ignored.
read_line:
        push ax
        push cx
        push si
        push di
        xor cx, cx                      ; cx = line length
.next:
        call getc
        mov ah, [last_was_cr]
        mov byte [last_was_cr], 0
        cmp al, 13
        je .cr
        cmp al, 10
        je .lf
        cmp al, 8
        je .backspace
        cmp al, 0x7F
        je .backspace
        cmp al, 0x20
        jb .next                        ; other control bytes
        cmp al, 0x7E
        ja .next                        ; not ASCII
        cmp cx, LINE_MAX
        jae .next                       ; line full: ignore
        mov di, cx
        mov [line_buf + di], al
        inc cx
        call putc                       ; echo
        jmp .next
.backspace:
        jcxz .next
        dec cx
        mov si, str_rubout
        call puts
        jmp .next
.lf:
        test ah, ah
        jnz .next                       ; the LF of a CR LF pair
        jmp .end
.cr:
        mov byte [last_was_cr], 1
.end:
        mov di, cx
        mov byte [line_buf + di], 0
        call crlf
        pop di
        pop si
        pop cx
        pop ax
        ret

; Advance SI past spaces.
skip_spaces:
        cmp byte [si], ' '
        jne .done
        inc si
        jmp skip_spaces
.done:
        ret

; ---------------------------------------------------------------------------
; Command interpreter
; ---------------------------------------------------------------------------

; Each entry: name, argument synopsis, description, handler (ROM offsets).
%define CMD_NAME        0
%define CMD_ARGS        2
%define CMD_DESC        4
%define CMD_HANDLER     6
CMD_ENTRY_SIZE  equ 8

cmd_table:
        dw str_cmd_help,     str_empty,   str_desc_help,     cmd_help
        dw str_cmd_cpuid,    str_empty,   str_desc_cpuid,    cmd_cpuid
        dw str_cmd_mem,      str_empty,   str_desc_mem,      cmd_mem
        dw str_cmd_echo,     str_arg_text, str_desc_echo,    cmd_echo
        dw str_cmd_exit,     str_arg_n,   str_desc_exit,     cmd_exit
        dw str_cmd_reboot,   str_empty,   str_desc_reboot,   cmd_reboot
        dw str_cmd_poweroff, str_empty,   str_desc_poweroff, cmd_poweroff
        dw 0

; Execute the command in line_buf.
run_line:
        mov si, line_buf
        call skip_spaces
        cmp byte [si], 0
        je .done                        ; empty line
        mov bx, si                      ; bx = command word
.word:
        mov al, [si]
        test al, al
        jz .word_end
        cmp al, ' '
        je .word_end
        inc si
        jmp .word
.word_end:
        mov cx, si
        sub cx, bx                      ; cx = length of the word
        call skip_spaces                ; si = arguments
        mov di, cmd_table
.lookup:
        mov dx, [cs:di + CMD_NAME]
        test dx, dx
        jz .unknown
        push si
        push di
        mov si, bx
        mov di, dx
        call word_equals
        pop di
        pop si
        je .found
        add di, CMD_ENTRY_SIZE
        jmp .lookup
.found:
        call [cs:di + CMD_HANDLER]      ; handler gets SI = arguments
.done:
        ret
.unknown:
        mov si, str_unknown_cmd
        call puts
.echo_word:
        mov al, [bx]
        call putc
        inc bx
        loop .echo_word
        mov si, str_try_help
        call putsln
        ret

; ZF=1 if the CX bytes at DS:SI equal the NUL-terminated string at CS:DI.
word_equals:
        push ax
        push cx
        push si
        push di
.next:
        jcxz .end
        mov al, [si]
        cmp al, [cs:di]
        jne .done
        inc si
        inc di
        dec cx
        jmp .next
.end:
        cmp byte [cs:di], 0
.done:
        pop di
        pop si
        pop cx
        pop ax
        ret

; ZF=1 if the NUL-terminated string at DS:SI equals the one at CS:DI.
str_equals:
        push ax
        push si
        push di
.next:
        mov al, [si]
        cmp al, [cs:di]
        jne .done
        test al, al
        jz .done
        inc si
        inc di
        jmp .next
.done:
        pop di
        pop si
        pop ax
        ret

; --- help -------------------------------------------------------------------
cmd_help:
        mov si, str_help_header
        call putsln
        mov di, cmd_table
.next:
        mov si, [cs:di + CMD_NAME]
        test si, si
        jz .done
        mov al, ' '
        call putc
        call putc
        call puts
        mov si, [cs:di + CMD_ARGS]
        call puts
        mov al, 16
        call pad_to
        mov si, [cs:di + CMD_DESC]
        call putsln
        add di, CMD_ENTRY_SIZE
        jmp .next
.done:
        ret

; --- echo -------------------------------------------------------------------
cmd_echo:
        call puts_ram
        jmp crlf

; --- mem --------------------------------------------------------------------
cmd_mem:
        mov si, str_mem_ram
        call puts
        cmp byte [fw_present], 0
        je .unknown
        mov eax, [ram_mib]
        call print_dec
        mov si, str_mem_mib
        call putsln
        mov si, str_mem_cpus
        call puts
        movzx eax, word [cpu_count]
        call print_dec
        jmp crlf
.unknown:
        mov si, str_unknown_nofw
        call putsln
        mov si, str_mem_cpus
        call puts
        mov si, str_unknown_nofw
        jmp putsln

; --- exit N -----------------------------------------------------------------
cmd_exit:
        call parse_u8
        jc .usage
        out DEBUG_EXIT, al              ; QEMU exits with status (N << 1) | 1
        call settle
        mov si, str_no_debug_exit
        jmp putsln
.usage:
        mov si, str_exit_usage
        jmp putsln

; Parse a decimal number 0-255 at DS:SI followed only by spaces.
; Returns AL = value, CF=1 if malformed or out of range.
parse_u8:
        push bx
        push cx
        push dx
        xor ax, ax
        xor bx, bx
        xor cx, cx                      ; digit count
.digit:
        mov bl, [si]
        sub bl, '0'
        jb .end
        cmp bl, 9
        ja .end
        mov dx, ax                      ; ax = ax * 10 + digit
        shl ax, 2
        add ax, dx
        shl ax, 1
        add ax, bx
        cmp ax, 255
        ja .bad
        inc si
        inc cx
        jmp .digit
.end:
        jcxz .bad
        call skip_spaces
        cmp byte [si], 0
        jne .bad
        clc
        jmp .ret
.bad:
        stc
.ret:
        pop dx
        pop cx
        pop bx
        ret

; Give an emulator a moment to act on a power/reset/exit request before
; concluding that it had no effect.
settle:
        push cx
        push dx
        mov dx, 16
.outer:
        xor cx, cx
.inner:
        loop .inner
        dec dx
        jnz .outer
        pop dx
        pop cx
        ret

; --- reboot -----------------------------------------------------------------
cmd_reboot:
        mov si, str_rebooting
        call putsln
        call uart_flush
        cli
        mov dx, RESET_CONTROL           ; 1: PIIX3 reset control register
        mov al, 0x06                    ;    SYS_RST | RST_CPU
        out dx, al
        call settle
        xor cx, cx                      ; 2: keyboard controller reset pulse
.kbc_wait:
        in al, KBC_STATUS
        test al, 0x02                   ;    input buffer full?
        jz .kbc_ready
        loop .kbc_wait
.kbc_ready:
        mov al, KBC_CMD_RESET
        out KBC_STATUS, al
        call settle
        lidt [cs:null_idtr]             ; 3: triple fault
        int3
.halt:
        hlt
        jmp .halt

; --- poweroff ---------------------------------------------------------------
cmd_poweroff:
        mov si, str_powering_off
        call putsln
        call uart_flush
        mov dx, PCI_CFG_ADDR            ; PIIX4 PM: PMBA = 0x600 | IO
        mov eax, PIIX4_PM | PIIX4_PMBA
        out dx, eax
        mov dx, PCI_CFG_DATA
        mov eax, PM_BASE | 1
        out dx, eax
        mov dx, PCI_CFG_ADDR            ; PMREGMISC bit 0: PM I/O enable
        mov eax, PIIX4_PM | PIIX4_PMREGMISC
        out dx, eax
        mov dx, PCI_CFG_DATA
        in al, dx
        or al, 0x01
        out dx, al
        mov dx, PM1A_CNT                ; SLP_TYP = 0 (S5), SLP_EN
        mov ax, SLP_EN
        out dx, ax
        call settle
        mov si, str_poweroff_failed
        jmp putsln

; --- cpuid ------------------------------------------------------------------
; CF=0 if the CPU has CPUID, i.e. if EFLAGS.ID (bit 21) can be toggled.
has_cpuid:
        push eax
        push ecx
        pushfd
        pop eax
        mov ecx, eax
        xor eax, 1 << 21
        push eax
        popfd
        pushfd
        pop eax
        push ecx
        popfd                           ; restore the original flags
        xor eax, ecx
        test eax, 1 << 21               ; (clears CF)
        jnz .done
        stc
.done:
        pop ecx
        pop eax
        ret

cmd_cpuid:
        call has_cpuid
        jnc .have_cpuid
        mov si, str_no_cpuid
        jmp putsln
.have_cpuid:
        xor eax, eax
        CPUID_
        mov [vendor_buf + 0], ebx
        mov [vendor_buf + 4], edx
        mov [vendor_buf + 8], ecx
        mov byte [vendor_buf + 12], 0
        push eax                        ; max basic leaf
        mov si, str_cpuid_vendor
        call puts
        mov si, vendor_buf
        call puts_ram
        call crlf
        mov si, str_cpuid_max
        call puts
        pop eax
        mov cx, 8
        call print_hex
        call crlf
        cmp eax, 1
        jb .extended

        mov eax, 1
        CPUID_
        mov [cpuid_sig], eax
        mov [cpuid_edx], edx
        mov [cpuid_ecx], ecx
        mov si, str_cpuid_sig
        call puts
        mov cx, 8
        call print_hex
        ; family: base family, plus extended family when base = 0Fh
        mov si, str_cpuid_family
        call puts
        mov ebx, eax
        shr ebx, 8
        and ebx, 0x0F
        cmp bl, 0x0F
        jne .family_done
        mov edx, eax
        shr edx, 20
        and edx, 0xFF
        add ebx, edx
.family_done:
        xchg eax, ebx                   ; eax = family, ebx = signature
        call print_dec
        mov si, str_paren_hex
        call puts
        mov cx, 2
        call print_hex
        mov si, str_cpuid_model
        call puts
        ; model: base model, plus extended model << 4 when base family is
        ; 06h or 0Fh
        mov eax, ebx
        shr eax, 4
        and eax, 0x0F
        mov edx, ebx
        shr edx, 8
        and edx, 0x0F
        cmp dl, 0x06
        je .add_ext_model
        cmp dl, 0x0F
        jne .model_done
.add_ext_model:
        mov edx, ebx
        shr edx, 12                     ; bits 19:16 -> 7:4
        and edx, 0xF0
        add eax, edx
.model_done:
        call print_dec
        mov si, str_paren_hex
        call puts
        mov cx, 2
        call print_hex
        mov si, str_cpuid_stepping
        call puts
        mov eax, ebx
        and eax, 0x0F
        call print_dec
        mov al, ')'
        call putc
        call crlf

        mov si, str_cpuid_edx
        call puts
        mov eax, [cpuid_edx]
        mov di, edx_flag_names
        call print_flags
        mov si, str_cpuid_ecx
        call puts
        mov eax, [cpuid_ecx]
        mov di, ecx_flag_names
        call print_flags

.extended:
        ; Processor brand string, when leaves 80000002h-80000004h exist.
        mov eax, 0x80000000
        CPUID_
        cmp eax, 0x80000004
        jb .done
        cmp eax, 0x8000FFFF
        ja .done
        mov di, brand_buf
        mov eax, 0x80000002
.brand_leaf:
        push eax
        CPUID_
        mov [di + 0], eax
        mov [di + 4], ebx
        mov [di + 8], ecx
        mov [di + 12], edx
        add di, 16
        pop eax
        inc eax
        cmp eax, 0x80000004
        jbe .brand_leaf
        mov byte [di], 0
        mov si, brand_buf
        call skip_spaces
        cmp byte [si], 0
        je .done
        push si
        mov si, str_cpuid_brand
        call puts
        pop si
        call puts_ram
        call crlf
.done:
        ret

; Print the names of the bits set in EAX, using the table of 32 name
; pointers (0 = unnamed) at CS:DI, wrapping lines at 78 columns.
FLAGS_INDENT    equ 12
print_flags:
        push eax
        push bx
        push cx
        push dx
        push si
        push di
        mov edx, eax
        xor bx, bx                      ; bx = names printed
        mov cx, 32
.bit:
        shr edx, 1
        jnc .skip
        mov si, [cs:di]
        test si, si
        jz .skip
        push si                         ; wrap if " name" would pass col 78
        xor ax, ax
.len:
        cmp byte [cs:si], 0
        je .measured
        inc si
        inc ax
        jmp .len
.measured:
        pop si
        add al, [out_col]
        cmp ax, 77
        jb .fits
        call crlf
        mov al, FLAGS_INDENT
        call pad_to
        jmp .name
.fits:
        test bx, bx
        jz .name
        mov al, ' '
        call putc
.name:
        call puts
        inc bx
.skip:
        add di, 2
        loop .bit
        test bx, bx
        jnz .end
        mov si, str_none
        call puts
.end:
        call crlf
        pop di
        pop si
        pop dx
        pop cx
        pop bx
        pop eax
        ret

; ---------------------------------------------------------------------------
; fw_cfg
; ---------------------------------------------------------------------------

; Select fw_cfg item AX.
fw_select:
        push dx
        mov dx, FW_CFG_SEL
        out dx, ax
        pop dx
        ret

; Read 4 bytes from the selected item: little endian into EAX.
fw_read_le32:
        push cx
        push dx
        mov dx, FW_CFG_DATA
        mov cx, 4
.byte:
        in al, dx
        ror eax, 8
        loop .byte
        pop dx
        pop cx
        ret

; Read 2 bytes from the selected item: little endian into AX.
fw_read_le16:
        push dx
        mov dx, FW_CFG_DATA
        in al, dx
        mov ah, al
        in al, dx
        xchg al, ah
        pop dx
        ret

; Read 4 (fw_read_be32) or 2 (fw_read_be16) bytes big endian into EAX.
fw_read_be32:
        push cx
        mov cx, 4
        jmp fw_read_be
fw_read_be16:
        push cx
        mov cx, 2
        xor eax, eax
fw_read_be:
        push dx
        mov dx, FW_CFG_DATA
.byte:
        shl eax, 8
        in al, dx
        loop .byte
        pop dx
        pop cx
        ret

; Probe fw_cfg and read RAM size, CPU count and the pcvm version string.
fw_cfg_init:
        mov ax, FW_CFG_SIGNATURE
        call fw_select
        call fw_read_le32
        cmp eax, 'QEMU'
        jne .done
        mov byte [fw_present], 1

        mov ax, FW_CFG_RAM_SIZE
        call fw_select
        call fw_read_le32
        mov ebx, eax
        call fw_read_le32
        shl eax, 12                     ; MiB = size >> 20 (64-bit)
        shr ebx, 20
        or eax, ebx
        mov [ram_mib], eax

        mov ax, FW_CFG_NB_CPUS
        call fw_select
        call fw_read_le16
        mov [cpu_count], ax

        call fw_find_version
.done:
        ret

; Look up "opt/pcvm/version" in the fw_cfg file directory and copy its
; printable prefix (at most VERSION_MAX bytes) to version_buf.
fw_find_version:
        mov ax, FW_CFG_FILE_DIR
        call fw_select
        call fw_read_be32               ; number of files
        cmp eax, 0x1000
        ja .done                        ; nonsense
        mov cx, ax
        jcxz .done
.entry:
        push cx
        call fw_read_be32
        mov [fw_file_size], eax
        call fw_read_be16
        mov [fw_file_sel], ax
        call fw_read_be16               ; reserved
        mov di, fw_name_buf
        mov cx, 56
        mov dx, FW_CFG_DATA
.name:
        in al, dx
        mov [di], al
        inc di
        loop .name
        mov byte [di], 0
        mov si, fw_name_buf
        mov di, str_version_file
        call str_equals
        pop cx
        je .found
        loop .entry
.done:
        ret
.found:
        mov ax, [fw_file_sel]
        call fw_select
        mov ecx, [fw_file_size]
        cmp ecx, VERSION_MAX
        jbe .size_ok
        mov cx, VERSION_MAX
.size_ok:
        mov di, version_buf
        mov dx, FW_CFG_DATA
        jcxz .copied
.copy:
        in al, dx
        cmp al, 0x20                    ; stop at NUL, newline, ...
        jb .copied
        cmp al, 0x7E
        ja .copied
        mov [di], al
        inc di
        loop .copy
.copied:
        mov byte [di], 0
        ret

; ---------------------------------------------------------------------------
; Banner
; ---------------------------------------------------------------------------
print_banner:
        mov si, str_banner
        call puts
        mov si, version_buf
        cmp byte [si], 0
        je .no_version
        call puts_ram
        jmp .config
.no_version:
        mov si, str_unknown
        call puts
.config:
        cmp byte [fw_present], 0
        je .no_fw_cfg
        mov si, str_banner_open
        call puts
        mov eax, [ram_mib]
        call print_dec
        mov si, str_banner_ram
        call puts
        movzx eax, word [cpu_count]
        call print_dec
        mov si, str_banner_cpu
        call puts
        cmp eax, 1
        je .close
        mov al, 's'
        call putc
.close:
        mov al, ')'
        call putc
        jmp .hint
.no_fw_cfg:
        mov si, str_banner_nofw
        call puts
.hint:
        call crlf
        mov si, str_hint
        jmp putsln

; ---------------------------------------------------------------------------
; Read-only data
; ---------------------------------------------------------------------------
null_idtr:
        dw 0                            ; limit 0: any interrupt faults
        dd 0

str_banner:        db "pcvm demo firmware ", 0
str_unknown:       db "unknown", 0
str_banner_open:   db " (", 0
str_banner_ram:    db " MiB RAM, ", 0
str_banner_cpu:    db " CPU", 0
str_banner_nofw:   db " (no fw_cfg: RAM size and CPU count unknown)", 0
str_hint:          db "type 'help' for commands", 0
str_prompt:        db "pcvm> ", 0
str_rubout:        db 8, " ", 8, 0
str_unknown_cmd:   db "unknown command: ", 0
str_try_help:      db " (try 'help')", 0
str_version_file:  db "opt/pcvm/version", 0
str_empty:         db 0

str_help_header:   db "commands:", 0
str_cmd_help:      db "help", 0
str_cmd_cpuid:     db "cpuid", 0
str_cmd_mem:       db "mem", 0
str_cmd_echo:      db "echo", 0
str_cmd_exit:      db "exit", 0
str_cmd_reboot:    db "reboot", 0
str_cmd_poweroff:  db "poweroff", 0
str_arg_text:      db " TEXT", 0
str_arg_n:         db " N", 0
str_desc_help:     db "list the commands", 0
str_desc_cpuid:    db "show the CPU vendor, family/model/stepping and feature flags", 0
str_desc_mem:      db "show the RAM size and CPU count (from fw_cfg)", 0
str_desc_echo:     db "print TEXT", 0
str_desc_exit:     db "exit the emulator with status N, 0-255 (isa-debug-exit)", 0
str_desc_reboot:   db "reset the machine", 0
str_desc_poweroff: db "power the machine off (ACPI S5)", 0

str_mem_ram:       db "RAM:  ", 0
str_mem_mib:       db " MiB", 0
str_mem_cpus:      db "CPUs: ", 0
str_unknown_nofw:  db "unknown (no fw_cfg)", 0
str_exit_usage:    db "usage: exit N  (N = 0-255)", 0
str_no_debug_exit: db "exit: no isa-debug-exit device present", 0
str_rebooting:     db "rebooting...", 0
str_powering_off:  db "powering off...", 0
str_poweroff_failed: db "poweroff: ACPI power-off failed", 0

str_no_cpuid:      db "cpuid: not supported by this CPU", 0
str_cpuid_vendor:  db "vendor:     ", 0
str_cpuid_max:     db "max leaf:   0x", 0
str_cpuid_sig:     db "signature:  0x", 0
str_cpuid_family:  db " (family ", 0
str_cpuid_model:   db "), model ", 0
str_cpuid_stepping: db "), stepping ", 0
str_paren_hex:     db " (0x", 0
str_cpuid_edx:     db "edx flags:  ", 0
str_cpuid_ecx:     db "ecx flags:  ", 0
str_cpuid_brand:   db "brand:      ", 0
str_none:          db "(none)", 0

; CPUID.1 EDX / ECX feature flag names (Intel SDM vol. 2A, table 3-10/3-11;
; Linux /proc/cpuinfo spelling), one pointer per bit, 0 = reserved.
edx_flag_names:
        dw f_fpu, f_vme, f_de, f_pse, f_tsc, f_msr, f_pae, f_mce
        dw f_cx8, f_apic, 0, f_sep, f_mtrr, f_pge, f_mca, f_cmov
        dw f_pat, f_pse36, f_pn, f_clflush, 0, f_dts, f_acpi, f_mmx
        dw f_fxsr, f_sse, f_sse2, f_ss, f_ht, f_tm, f_ia64, f_pbe
ecx_flag_names:
        dw f_sse3, f_pclmulqdq, f_dtes64, f_monitor, f_ds_cpl, f_vmx, f_smx, f_est
        dw f_tm2, f_ssse3, f_cid, f_sdbg, f_fma, f_cx16, f_xtpr, f_pdcm
        dw 0, f_pcid, f_dca, f_sse4_1, f_sse4_2, f_x2apic, f_movbe, f_popcnt
        dw f_tsc_deadline, f_aes, f_xsave, f_osxsave, f_avx, f_f16c, f_rdrand, f_hypervisor

f_fpu:          db "fpu", 0
f_vme:          db "vme", 0
f_de:           db "de", 0
f_pse:          db "pse", 0
f_tsc:          db "tsc", 0
f_msr:          db "msr", 0
f_pae:          db "pae", 0
f_mce:          db "mce", 0
f_cx8:          db "cx8", 0
f_apic:         db "apic", 0
f_sep:          db "sep", 0
f_mtrr:         db "mtrr", 0
f_pge:          db "pge", 0
f_mca:          db "mca", 0
f_cmov:         db "cmov", 0
f_pat:          db "pat", 0
f_pse36:        db "pse36", 0
f_pn:           db "pn", 0
f_clflush:      db "clflush", 0
f_dts:          db "dts", 0
f_acpi:         db "acpi", 0
f_mmx:          db "mmx", 0
f_fxsr:         db "fxsr", 0
f_sse:          db "sse", 0
f_sse2:         db "sse2", 0
f_ss:           db "ss", 0
f_ht:           db "ht", 0
f_tm:           db "tm", 0
f_ia64:         db "ia64", 0
f_pbe:          db "pbe", 0
f_sse3:         db "sse3", 0
f_pclmulqdq:    db "pclmulqdq", 0
f_dtes64:       db "dtes64", 0
f_monitor:      db "monitor", 0
f_ds_cpl:       db "ds_cpl", 0
f_vmx:          db "vmx", 0
f_smx:          db "smx", 0
f_est:          db "est", 0
f_tm2:          db "tm2", 0
f_ssse3:        db "ssse3", 0
f_cid:          db "cid", 0
f_sdbg:         db "sdbg", 0
f_fma:          db "fma", 0
f_cx16:         db "cx16", 0
f_xtpr:         db "xtpr", 0
f_pdcm:         db "pdcm", 0
f_pcid:         db "pcid", 0
f_dca:          db "dca", 0
f_sse4_1:       db "sse4_1", 0
f_sse4_2:       db "sse4_2", 0
f_x2apic:       db "x2apic", 0
f_movbe:        db "movbe", 0
f_popcnt:       db "popcnt", 0
f_tsc_deadline: db "tsc_deadline_timer", 0
f_aes:          db "aes", 0
f_xsave:        db "xsave", 0
f_osxsave:      db "osxsave", 0
f_avx:          db "avx", 0
f_f16c:         db "f16c", 0
f_rdrand:       db "rdrand", 0
f_hypervisor:   db "hypervisor", 0

code_end:

; ---------------------------------------------------------------------------
; Reset vector: the CPU starts at F000:FFF0 (physical FFFFFFF0)
; ---------------------------------------------------------------------------
        times 0xFFF0 - ($ - $$) db 0xFF
reset_vector:
        jmp ROM_SEG:entry
        times 0x10000 - ($ - $$) db 0xFF
