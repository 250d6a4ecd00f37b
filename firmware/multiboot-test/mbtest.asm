; pcvm multiboot test kernel: boots through multiboot v1 (`-kernel mbtest.elf`) and checks
; what the boot loader handed it, printing "PASS: <check>" / "FAIL: <check>" lines on COM1
; and leaving through isa-debug-exit (port 0xF4): 0x10 when every check passed (exit status
; 33), else 0x20 + the number of the first failed check.
;
; The test that runs it (test/machine/multiboot-boot.test.ts) passes:
;   -append "console=ttyS0 pcvm-multiboot-test"
;   -initrd "<dir>/mod0.bin alpha beta,<dir>/mod,,1.bin"
; where mod0.bin is MOD0_SIZE bytes with byte i = (i * 7 + 3) & 0xFF, and mod,1.bin holds
; MOD1_DATA. Independent facts it compares with: the RAM size from fw_cfg (key 0x0003),
; the multiboot specification (0.6.96) for every structure, and the fixed strings above.
;
; Built twice from this file (scripts/build-firmware.mjs):
;   nasm -f bin -w+all -o mbtest.elf mbtest.asm            ELF32 image (hand-written headers)
;   nasm -f bin -w+all -DAOUT -o mbtest-aout.bin mbtest.asm  the a.out kludge (header flag 16)

        cpu     386
        bits    32

LOAD_ADDR       equ 0x100000
MB_MAGIC        equ 0x1BADB002
%ifdef AOUT
MB_FLAGS        equ 0x00010003      ; page-align modules, memory info, a.out kludge
%else
MB_FLAGS        equ 0x00000003
%endif
BOOT_MAGIC      equ 0x2BADB002
MOD0_SIZE       equ 4219
COM1            equ 0x3F8
DEBUG_EXIT      equ 0xF4
PASS_CODE       equ 0x10
FAIL_BASE       equ 0x20

; multiboot info offsets (spec 3.3)
MBI_FLAGS       equ 0
MBI_MEM_LOWER   equ 4
MBI_MEM_UPPER   equ 8
MBI_CMDLINE     equ 16
MBI_MODS_COUNT  equ 20
MBI_MODS_ADDR   equ 24
MBI_MMAP_LENGTH equ 44
MBI_MMAP_ADDR   equ 48
MBI_LOADER_NAME equ 64
; info flags we must get (memory, cmdline, mods, mmap, loader name) and must not (boot device)
WANT_FLAGS      equ (1 << 0) | (1 << 2) | (1 << 3) | (1 << 6) | (1 << 9)
NO_FLAGS        equ (1 << 1)

        org     LOAD_ADDR

%ifndef AOUT
; ---- ELF32 header and one PT_LOAD program header: the file maps 1:1 at LOAD_ADDR ----
elf_header:
        db      0x7F, 'E', 'L', 'F', 1, 1, 1, 0     ; ELFCLASS32, ELFDATA2LSB, EV_CURRENT
        times 8 db 0
        dw      2                   ; e_type: ET_EXEC
        dw      3                   ; e_machine: EM_386
        dd      1                   ; e_version
        dd      start               ; e_entry
        dd      program_header - $$ ; e_phoff
        dd      0                   ; e_shoff
        dd      0                   ; e_flags
        dw      52                  ; e_ehsize
        dw      32                  ; e_phentsize
        dw      1                   ; e_phnum
        dw      40, 0, 0            ; e_shentsize, e_shnum, e_shstrndx
program_header:
        dd      1                   ; p_type: PT_LOAD
        dd      0                   ; p_offset
        dd      LOAD_ADDR           ; p_vaddr
        dd      LOAD_ADDR           ; p_paddr
        dd      file_end - $$       ; p_filesz
        dd      bss_end - $$        ; p_memsz
        dd      7                   ; p_flags: RWX
        dd      0x1000              ; p_align
%endif

        times   (4 - ($ - $$) % 4) % 4 db 0     ; align 4 (nasm's `align` macro warns under -w+all)
multiboot_header:
        dd      MB_MAGIC
        dd      MB_FLAGS
        dd      -(MB_MAGIC + MB_FLAGS)
%ifdef AOUT
        dd      multiboot_header    ; header_addr
        dd      LOAD_ADDR           ; load_addr
        dd      file_end            ; load_end_addr
        dd      bss_end             ; bss_end_addr
        dd      start               ; entry_addr
%endif

start:
        mov     [saved_eax], eax
        mov     [saved_ebx], ebx
        mov     esp, stack_top
        pushfd
        pop     dword [saved_eflags]

        mov     esi, s_banner
        call    print

; 1. EAX holds the boot loader magic
        cmp     dword [saved_eax], BOOT_MAGIC
        call    result_if_equal
        mov     esi, n_magic
        call    report

; 2. entry state: IF=0, VM=0, CR0.PE=1, CR0.PG=0, flat 4 GiB code and data descriptors
        call    check_entry_state
        mov     esi, n_entry
        call    report

        mov     ebx, [saved_ebx]

; 3. info flags
        mov     eax, [ebx + MBI_FLAGS]
        and     eax, WANT_FLAGS | NO_FLAGS
        cmp     eax, WANT_FLAGS
        call    result_if_equal
        mov     esi, n_flags
        call    report

; 4. mem_lower: conventional memory below the EBDA, 639 KiB on a PC
        cmp     dword [ebx + MBI_MEM_LOWER], 639
        call    result_if_equal
        mov     esi, n_mem_lower
        call    report

; 5. mem_upper against the RAM size from fw_cfg: RAM from 1 MiB up, less at most 1 MiB of
;    firmware tables at the top (below the 3.5 GiB PCI hole)
        call    check_mem_upper
        mov     esi, n_mem_upper
        call    report

; 6. memory map
        call    check_mmap
        mov     esi, n_mmap
        call    report

; 7. command line: "<kernel file> console=ttyS0 pcvm-multiboot-test"
        mov     esi, s_info_cmdline
        call    print
        mov     esi, [ebx + MBI_CMDLINE]
        call    print
        call    crlf
        mov     esi, [ebx + MBI_CMDLINE]
        call    strlen
        cmp     ecx, expected_append_len + 1    ; a file name must come first
        jb      .cmdline_bad
        mov     edi, expected_append
        call    ends_with
        jmp     .cmdline_done
.cmdline_bad:
        xor     al, al
.cmdline_done:
        mov     esi, n_cmdline
        call    report

; 8. two modules
        cmp     dword [ebx + MBI_MODS_COUNT], 2
        call    result_if_equal
        mov     esi, n_mods_count
        call    report
        cmp     dword [ebx + MBI_MODS_COUNT], 2
        jne     finish

; 9. module 0: page aligned, after the kernel's bss, its length and bytes, its string
        mov     edx, [ebx + MBI_MODS_ADDR]
        call    check_module0
        mov     esi, n_mod0
        call    report

; 10. module 1: page aligned after module 0, its bytes, its string (",," became ",")
        mov     edx, [ebx + MBI_MODS_ADDR]
        call    check_module1
        mov     esi, n_mod1
        call    report

; 11. boot loader name
        mov     esi, [ebx + MBI_LOADER_NAME]
        mov     edi, expected_loader
        call    strings_equal
        mov     esi, n_loader
        call    report

finish:
        cmp     dword [first_failure], 0
        jne     .failed
        mov     esi, s_all_passed
        call    print
        mov     al, PASS_CODE
        out     DEBUG_EXIT, al
        jmp     halt
.failed:
        mov     esi, s_some_failed
        call    print
        mov     eax, [first_failure]
        add     eax, FAIL_BASE
        out     DEBUG_EXIT, al
halt:
        cli
        hlt
        jmp     halt

; ---------------------------------------------------------------------------------------
; Checks. Each returns AL = 1 (pass) or 0 (fail) and preserves EBX.

; AL = ZF (for "cmp; call result_if_equal")
result_if_equal:
        setz    al
        ret

check_entry_state:
        test    dword [saved_eflags], (1 << 9) | (1 << 17)  ; IF, VM
        jnz     .bad
        mov     eax, cr0
        and     eax, 0x80000001
        cmp     eax, 1                  ; PE set, PG clear
        jne     .bad
        sgdt    [gdtr]
        mov     ax, cs
        mov     edx, 0x00CF9A00         ; present, DPL 0, code, readable, G, D, not L
        call    descriptor_is_flat
        test    al, al
        jz      .bad
        mov     edx, 0x00CF9200         ; present, DPL 0, data, writable, G, B
        mov     ax, ds
        call    descriptor_is_flat
        test    al, al
        jz      .bad
        mov     ax, es
        call    descriptor_is_flat
        test    al, al
        jz      .bad
        mov     ax, ss
        call    descriptor_is_flat
        test    al, al
        jz      .bad
        mov     ax, fs
        call    descriptor_is_flat
        test    al, al
        jz      .bad
        mov     ax, gs
        call    descriptor_is_flat
        ret
.bad:
        xor     al, al
        ret

; AX = selector, EDX = expected high dword (masked): base 0, limit 0xFFFFF, G=1
descriptor_is_flat:
        movzx   eax, ax
        test    eax, 4                  ; must be in the GDT
        jnz     .bad
        and     eax, 0xFFF8
        jz      .bad
        add     eax, 7
        cmp     ax, [gdtr]              ; within the GDT limit
        ja      .bad
        sub     eax, 7
        add     eax, [gdtr + 2]
        cmp     dword [eax], 0x0000FFFF ; limit 15:0 all ones, base 15:0 zero
        jne     .bad
        mov     eax, [eax + 4]
        and     eax, 0xFFEFFAFF         ; ignore AVL, accessed, conforming/expand-down
        cmp     eax, edx
        sete    al
        ret
.bad:
        xor     al, al
        ret

check_mem_upper:
        ; RAM size (u64 little-endian) from fw_cfg key 0x0003
        mov     dx, 0x510
        mov     ax, 0x0003
        out     dx, ax
        mov     dx, 0x511
        in      al, dx
        mov     [ram_size], al
        in      al, dx
        mov     [ram_size + 1], al
        in      al, dx
        mov     [ram_size + 2], al
        in      al, dx
        mov     [ram_size + 3], al
        in      al, dx
        mov     [ram_size + 4], al
        mov     eax, [ram_size]
        cmp     byte [ram_size + 4], 0
        jne     .cap
        cmp     eax, 0xE0000000
        jbe     .capped
.cap:
        mov     eax, 0xE0000000
.capped:
        ; top of the RAM from 1 MiB = 1 MiB + mem_upper KiB; must be in [RAM - 1 MiB, RAM]
        mov     ecx, [ebx + MBI_MEM_UPPER]
        shl     ecx, 10
        add     ecx, 0x100000
        cmp     ecx, eax
        ja      .bad
        sub     eax, 0x100000
        cmp     ecx, eax
        jb      .bad
        mov     al, 1
        ret
.bad:
        xor     al, al
        ret

; Entries: size field 20, then base, length (u64 each) and type; ascending, not
; overlapping; types 1-5; RAM from 0 covering mem_lower, RAM from 1 MiB of mem_upper KiB.
check_mmap:
        mov     ecx, [ebx + MBI_MMAP_LENGTH]
        test    ecx, ecx
        jz      .bad
        mov     esi, [ebx + MBI_MMAP_ADDR]
        lea     edi, [esi + ecx]        ; end
        xor     ebp, ebp                ; end of the previous entry (low 32 bits)
        mov     dword [prev_end_hi], 0
        mov     byte [seen_low], 0
        mov     byte [seen_upper], 0
.next:
        cmp     esi, edi
        je      .done
        ja      .bad
        cmp     dword [esi], 20
        jne     .bad
        mov     eax, [esi + 20]         ; type
        cmp     eax, 1
        jb      .bad
        cmp     eax, 5
        ja      .bad
        ; base >= previous end (64-bit)
        mov     eax, [esi + 8]          ; base high
        cmp     eax, [prev_end_hi]
        ja      .ordered
        jb      .bad
        cmp     [esi + 4], ebp
        jb      .bad
.ordered:
        ; previous end = base + length
        mov     eax, [esi + 4]
        mov     edx, [esi + 8]
        add     eax, [esi + 12]
        adc     edx, [esi + 16]
        jc      .bad
        mov     ebp, eax
        mov     [prev_end_hi], edx
        cmp     dword [esi + 20], 1
        jne     .advance
        cmp     dword [esi + 8], 0
        jne     .advance
        cmp     dword [esi + 4], 0      ; RAM at 0 covering mem_lower KiB
        jne     .not_low
        mov     eax, [ebx + MBI_MEM_LOWER]
        shl     eax, 10
        cmp     [esi + 12], eax
        jb      .advance
        mov     byte [seen_low], 1
.not_low:
        cmp     dword [esi + 4], 0x100000 ; RAM at 1 MiB of exactly mem_upper KiB
        jne     .advance
        mov     eax, [ebx + MBI_MEM_UPPER]
        shl     eax, 10
        cmp     [esi + 12], eax
        jne     .advance
        cmp     dword [esi + 16], 0
        jne     .advance
        mov     byte [seen_upper], 1
.advance:
        add     esi, 24
        jmp     .next
.done:
        mov     al, [seen_low]
        and     al, [seen_upper]
        ret
.bad:
        xor     al, al
        ret

; EDX = module list
check_module0:
        mov     esi, [edx]              ; mod_start
        test    esi, 0xFFF
        jnz     .bad
        cmp     esi, bss_end            ; after the kernel and its bss
        jb      .bad
        mov     ecx, [edx + 4]
        sub     ecx, esi
        cmp     ecx, MOD0_SIZE
        jne     .bad
        xor     ecx, ecx                ; byte i = (i * 7 + 3) & 0xFF
.byte:
        lea     eax, [ecx * 8]
        sub     eax, ecx
        add     eax, 3
        cmp     [esi + ecx], al
        jne     .bad
        inc     ecx
        cmp     ecx, MOD0_SIZE
        jb      .byte
        mov     esi, [edx + 8]          ; string: "<dir>/mod0.bin alpha beta"
        mov     edi, expected_mod0
        call    ends_with
        ret
.bad:
        xor     al, al
        ret

check_module1:
        mov     esi, [edx + 16]         ; mod_start
        test    esi, 0xFFF
        jnz     .bad
        cmp     esi, [edx + 4]          ; after module 0
        jb      .bad
        mov     ecx, [edx + 20]
        sub     ecx, esi
        cmp     ecx, mod1_data_len
        jne     .bad
        mov     edi, mod1_data
.byte:
        mov     al, [esi]
        cmp     al, [edi]
        jne     .bad
        inc     esi
        inc     edi
        loop    .byte
        mov     esi, [edx + 24]         ; string: "<dir>/mod,1.bin"
        mov     edi, expected_mod1
        call    ends_with
        ret
.bad:
        xor     al, al
        ret

; ---------------------------------------------------------------------------------------
; Strings and output

; ESI = string → ECX = length
strlen:
        xor     ecx, ecx
.loop:
        cmp     byte [esi + ecx], 0
        je      .done
        inc     ecx
        jmp     .loop
.done:
        ret

; AL = 1 when the string at ESI ends with the one at EDI
ends_with:
        push    esi
        push    edi
        call    strlen
        mov     edx, ecx                ; length of the string
        xchg    esi, edi
        call    strlen                  ; ECX = length of the suffix
        xchg    esi, edi
        cmp     edx, ecx
        jb      .no
        add     esi, edx
        sub     esi, ecx
        call    strings_equal
        jmp     .out
.no:
        xor     al, al
.out:
        pop     edi
        pop     esi
        ret

; AL = 1 when the strings at ESI and EDI are equal
strings_equal:
        push    esi
        push    edi
.loop:
        mov     al, [esi]
        cmp     al, [edi]
        jne     .no
        test    al, al
        jz      .yes
        inc     esi
        inc     edi
        jmp     .loop
.yes:
        mov     al, 1
        jmp     .out
.no:
        xor     al, al
.out:
        pop     edi
        pop     esi
        ret

; AL = pass (1) or fail (0), ESI = check name: prints the line, counts the check
report:
        push    esi
        inc     dword [check_number]
        test    al, al
        jnz     .pass
        mov     esi, s_fail
        call    print
        cmp     dword [first_failure], 0
        jne     .name
        mov     eax, [check_number]
        mov     [first_failure], eax
        jmp     .name
.pass:
        mov     esi, s_pass
        call    print
.name:
        pop     esi
        call    print
        call    crlf
        ret

crlf:
        mov     al, 13
        call    putc
        mov     al, 10
        jmp     putc

; ESI = zero-terminated string
print:
        push    esi
.loop:
        mov     al, [esi]
        test    al, al
        jz      .done
        call    putc
        inc     esi
        jmp     .loop
.done:
        pop     esi
        ret

; AL = byte; waits for THRE (LSR bit 5)
putc:
        push    edx
        push    eax
        mov     dx, COM1 + 5
.wait:
        in      al, dx
        test    al, 0x20
        jz      .wait
        pop     eax
        mov     dx, COM1
        out     dx, al
        pop     edx
        ret

s_banner        db "pcvm multiboot test kernel", 13, 10, 0
s_pass          db "PASS: ", 0
s_fail          db "FAIL: ", 0
s_info_cmdline  db "INFO: cmdline: ", 0
s_all_passed    db "PASS: all checks", 13, 10, 0
s_some_failed   db "FAIL: some checks failed", 13, 10, 0
n_magic         db "EAX holds 0x2BADB002", 0
n_entry         db "flat 32-bit protected mode, paging and interrupts off", 0
n_flags         db "info flags: memory, cmdline, mods, mmap, loader name; no boot device", 0
n_mem_lower     db "mem_lower is 639 KiB", 0
n_mem_upper     db "mem_upper matches the RAM size from fw_cfg", 0
n_mmap          db "memory map entries are well formed and match mem_lower/mem_upper", 0
n_cmdline       db "cmdline is the kernel file name and -append", 0
n_mods_count    db "two modules", 0
n_mod0          db "module 0: placement, length, bytes and string", 0
n_mod1          db "module 1: placement, length, bytes and string", 0
n_loader        db "boot loader name is pcvm", 0
expected_append db " console=ttyS0 pcvm-multiboot-test", 0
expected_append_len equ $ - expected_append - 1
expected_mod0   db "mod0.bin alpha beta", 0
expected_mod1   db "/mod,1.bin", 0
expected_loader db "pcvm", 0
mod1_data       db "second module", 10
mod1_data_len   equ $ - mod1_data

        times   (4 - ($ - $$) % 4) % 4 db 0     ; align 4 (nasm's `align` macro warns under -w+all)
check_number    dd 0
first_failure   dd 0
file_end:

; ---- bss (zeroed by the loader) ----
        absolute file_end
saved_eax       resd 1
saved_ebx       resd 1
saved_eflags    resd 1
ram_size        resd 2
prev_end_hi     resd 1
seen_low        resb 1
seen_upper      resb 1
gdtr            resb 6
                resb 4096
stack_top:
bss_end:
