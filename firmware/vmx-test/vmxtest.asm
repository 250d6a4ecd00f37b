; pcvm VMX test hypervisor: a multiboot v1 kernel (`-kernel vmxtest.elf -cpu pcvm,+vmx`) that
; enters VMX operation and runs guests through scenarios, printing "PASS: <check>" or
; "FAIL: <check> (got XXXXXXXX)" on COM1 and leaving through isa-debug-exit (port 0xF4): 0x10
; when every check passed (exit status 33), else 0x20 + the number of the first failed check.
;
; Expected values come from the Intel SDM (Vol. 3C: VM-instruction error numbers 31.4, exit
; reasons Appendix C, exit qualifications 28.2.1, entry checks ch. 27), not from pcvm.
; The host runs in flat 32-bit protected mode with 4 MiB identity paging (VMX requires
; CR0.PG); guests share its GDT and page tables unless a scenario says otherwise.
;
; Built by scripts/build-firmware.mjs:  nasm -f bin -w+all -o vmxtest.elf vmxtest.asm

        cpu     x64
        bits    32

LOAD_ADDR       equ 0x100000
MB_MAGIC        equ 0x1BADB002
MB_FLAGS        equ 0x00000003
COM1            equ 0x3F8
DEBUG_EXIT      equ 0xF4
PASS_CODE       equ 0x10
FAIL_BASE       equ 0x20

; VMCS field encodings (SDM Appendix B)
VPID            equ 0x0000
G_ES_SEL        equ 0x0800
H_ES_SEL        equ 0x0C00
H_CS_SEL        equ 0x0C02
H_SS_SEL        equ 0x0C04
H_DS_SEL        equ 0x0C06
H_FS_SEL        equ 0x0C08
H_GS_SEL        equ 0x0C0A
H_TR_SEL        equ 0x0C0C
IO_BITMAP_A     equ 0x2000
IO_BITMAP_B     equ 0x2002
MSR_BITMAP      equ 0x2004
EXIT_MSR_STORE  equ 0x2006
ENTRY_MSR_LOAD  equ 0x200A
TSC_OFFSET      equ 0x2010
EPT_POINTER     equ 0x201A
GUEST_PHYS      equ 0x2400
LINK_PTR        equ 0x2800
PIN_CTLS        equ 0x4000
PROC_CTLS       equ 0x4002
EXC_BITMAP      equ 0x4004
CR3_TARGETS     equ 0x400A
EXIT_CTLS       equ 0x400C
EXIT_STORE_CNT  equ 0x400E
ENTRY_CTLS      equ 0x4012
ENTRY_LOAD_CNT  equ 0x4014
ENTRY_INTR      equ 0x4016
ENTRY_ERRCODE   equ 0x4018
ENTRY_INSTR_LEN equ 0x401A
PROC_CTLS2      equ 0x401E
VM_ERROR        equ 0x4400
EXIT_REASON     equ 0x4402
EXIT_INTR_INFO  equ 0x4404
IDT_VECT        equ 0x4408
EXIT_INSTR_LEN  equ 0x440C
G_ES_LIMIT      equ 0x4800
G_GDTR_LIMIT    equ 0x4810
G_IDTR_LIMIT    equ 0x4812
G_ES_AR         equ 0x4814
G_INTR_STATE    equ 0x4824
G_ACTIVITY      equ 0x4826
PREEMPT_TIMER   equ 0x482E
CR0_MASK        equ 0x6000
CR0_SHADOW      equ 0x6004
EXIT_QUAL       equ 0x6400
GUEST_LINEAR    equ 0x640A
G_CR0           equ 0x6800
G_CR3           equ 0x6802
G_CR4           equ 0x6804
G_ES_BASE       equ 0x6806
G_GDTR_BASE     equ 0x6816
G_IDTR_BASE     equ 0x6818
G_DR7           equ 0x681A
G_RSP           equ 0x681C
G_RIP           equ 0x681E
G_RFLAGS        equ 0x6820
H_CR0           equ 0x6C00
H_CR3           equ 0x6C02
H_CR4           equ 0x6C04
H_TR_BASE       equ 0x6C0A
H_GDTR_BASE     equ 0x6C0C
H_IDTR_BASE     equ 0x6C0E
H_RSP           equ 0x6C14
H_RIP           equ 0x6C16

; controls
PIN_EXTINT      equ 1 << 0
PIN_NMI         equ 1 << 3
PIN_VNMI        equ 1 << 5
PIN_PREEMPT     equ 1 << 6
P_INTWIN        equ 1 << 2
P_TSCOFF        equ 1 << 3
P_HLT           equ 1 << 7
P_CR3LOAD       equ 1 << 15
P_NMIWIN        equ 1 << 22
P_UNCOND_IO     equ 1 << 24
P_IO_BITMAPS    equ 1 << 25
P_MSR_BITMAPS   equ 1 << 28
P_SECONDARY     equ 1 << 31
P2_EPT          equ 1 << 1
P2_UNRESTRICTED equ 1 << 7
X_ACK_INTR      equ 1 << 15
X_SAVE_PREEMPT  equ 1 << 22

%macro VMW 2                    ; VMWRITE field %1 := %2
        mov     ebx, %2
        mov     eax, %1
        vmwrite eax, ebx
%endmacro
%macro VMR 1                    ; EBX := VMREAD field %1
        mov     eax, %1
        vmread  ebx, eax
%endmacro
%macro EXPECT 3                 ; check %1 == %2, named %3
        push    dword %1
        pop     dword [actual]
        cmp     dword [actual], %2
        sete    al
        jmp     %%go
%%s:    db      %3, 0
%%go:   mov     esi, %%s
        call    report
%endmacro
%macro EXPECT_VMR 3             ; check VMREAD(%1) == %2, named %3
        VMR     %1
        EXPECT  ebx, %2, %3
%endmacro
%macro SCENARIO 4               ; pin, proc, proc2, guest entry: set up a fresh VMCS
        mov     dword [want_pin], %1
        mov     dword [want_proc], %2
        mov     dword [want_proc2], %3
        mov     dword [guest_entry], %4
        call    setup_vmcs
%endmacro

        org     LOAD_ADDR

elf_header:
        db      0x7F, 'E', 'L', 'F', 1, 1, 1, 0
        times 8 db 0
        dw      2, 3                ; ET_EXEC, EM_386
        dd      1, start, program_header - $$, 0, 0
        dw      52, 32, 1, 40, 0, 0
program_header:
        dd      1, 0, LOAD_ADDR, LOAD_ADDR, file_end - $$, bss_end - $$, 7, 0x1000

        times   (4 - ($ - $$) % 4) % 4 db 0
multiboot_header:
        dd      MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

start:
        mov     esp, stack_top
        mov     esi, s_banner
        call    print
        call    setup_host

; ---- capabilities ----
        mov     eax, 1
        cpuid
        and     ecx, 1 << 5
        EXPECT  ecx, 1 << 5, "CPUID.1:ECX.VMX is set"
        cmp     dword [first_failure], 0
        jne     finish                          ; nothing else can run without VMX
        mov     ecx, 0x3A
        rdmsr
        EXPECT  eax, 5, "IA32_FEATURE_CONTROL is locked with VMX outside SMX enabled"
        mov     ecx, 0x480
        rdmsr
        mov     [revision], eax
        and     edx, 0x3C1FFF
        EXPECT  edx, 0x181000, "IA32_VMX_BASIC: 4096-byte VMCS, write-back"
        mov     eax, [revision]
        mov     [vmxon_region], eax
        mov     [vmcs_region], eax
        mov     dword [bad_region], 0x12345

; ---- VMXON ----
        mov     eax, cr4
        or      eax, 0x2000
        mov     cr4, eax
        vmxon   [bad_ptr]
        pushfd
        pop     eax
        and     eax, 0x41
        EXPECT  eax, 1, "VMXON with a wrong revision identifier: VMfailInvalid"
        vmxon   [vmxon_ptr]
        pushfd
        pop     eax
        and     eax, 0x8D5
        EXPECT  eax, 0, "VMXON: VMsucceed"
        vmxon   [vmxon_ptr]
        pushfd
        pop     eax
        and     eax, 0x41
        EXPECT  eax, 1, "VMXON in VMX root operation without a current VMCS: VMfailInvalid"
        mov     eax, cr4
        and     eax, ~0x2000
        mov     ebx, cr4_clear_gp
        mov     [gp_resume], ebx
        mov     dword [gp_count], 0
        mov     cr4, eax
cr4_clear_gp:
        EXPECT  [gp_count], 1, "clearing CR4.VMXE in VMX operation: #GP"

; ---- VMCS pointer instructions ----
        vmclear [vmcs_ptr]
        vmptrld [vmcs_ptr]
        pushfd
        pop     eax
        and     eax, 0x41
        EXPECT  eax, 0, "VMCLEAR and VMPTRLD: VMsucceed"
        vmptrst [scratch]
        EXPECT  [scratch], vmcs_region, "VMPTRST stores the current VMCS pointer"
        vmptrld [bad_ptr]
        EXPECT_VMR VM_ERROR, 11, "VMPTRLD with a wrong revision: VM-instruction error 11"
        vmptrld [vmxon_ptr]
        EXPECT_VMR VM_ERROR, 10, "VMPTRLD with the VMXON pointer: error 10"
        vmclear [misaligned_ptr]
        EXPECT_VMR VM_ERROR, 2, "VMCLEAR of a misaligned address: error 2"
        vmxon   [vmxon_ptr]
        EXPECT_VMR VM_ERROR, 15, "VMXON in VMX root operation: error 15"
        vmcall
        EXPECT_VMR VM_ERROR, 1, "VMCALL in VMX root operation: error 1"
        VMW     EXIT_REASON, 0
        EXPECT_VMR VM_ERROR, 13, "VMWRITE to a read-only field: error 13"
        mov     eax, 0x2032                     ; TSC multiplier: not supported
        vmread  ebx, eax
        EXPECT_VMR VM_ERROR, 12, "VMREAD of an unsupported field: error 12"
        VMW     CR0_MASK, 0x12345678
        EXPECT_VMR CR0_MASK, 0x12345678, "VMWRITE then VMREAD round trip"

; ---- VM-entry checks ----
        SCENARIO 0, 0, 0, g_vmcall
        VMW     PIN_CTLS, 0x96                  ; bit 7 is reserved (allowed-1 is 0)
        call    launch
        EXPECT  [launch_flags], 0x40, "VM entry with a reserved pin-based control: VMfailValid"
        EXPECT_VMR VM_ERROR, 7, "invalid control field: error 7"

        SCENARIO 0, 0, 0, g_vmcall
        VMW     H_CR0, 0x21                     ; CR0.PG is fixed to 1
        call    launch
        EXPECT_VMR VM_ERROR, 8, "host CR0 without PG: error 8"

        SCENARIO 0, 0, 0, g_vmcall
        VMW     H_TR_SEL, 0
        call    launch
        EXPECT_VMR VM_ERROR, 8, "null host TR selector: error 8"

        SCENARIO 0, 0, 0, g_vmcall
        VMW     G_RFLAGS, 0                     ; bit 1 must be 1
        call    launch
        EXPECT  [launch_flags], -1, "invalid guest state: a VM-entry failure exit, not VMfail"
        EXPECT_VMR EXIT_REASON, 0x80000021, "invalid guest RFLAGS: exit reason 33 with bit 31"
        EXPECT_VMR EXIT_QUAL, 0, "invalid guest state: qualification 0"

        SCENARIO 0, 0, 0, g_vmcall
        VMW     LINK_PTR, 0
        call    launch
        EXPECT_VMR EXIT_REASON, 0x80000021, "VMCS link pointer not all ones: exit reason 33"
        EXPECT_VMR EXIT_QUAL, 4, "VMCS link pointer: qualification 4"

        SCENARIO 0, 0, 0, g_vmcall
        VMW     ENTRY_LOAD_CNT, 1
        VMW     ENTRY_MSR_LOAD, msr_area
        mov     dword [msr_area], 0xC0000100    ; IA32_FS_BASE may not be loaded
        call    launch
        EXPECT_VMR EXIT_REASON, 0x80000022, "MSR-load area with IA32_FS_BASE: exit reason 34"
        EXPECT_VMR EXIT_QUAL, 1, "MSR-load failure: qualification is the entry number"

        SCENARIO 0, 0, 0, g_vmcall
        call    resume
        EXPECT_VMR VM_ERROR, 5, "VMRESUME of a clear VMCS: error 5"

; ---- exits ----
        SCENARIO 0, 0, 0, g_vmcall
        VMW     ENTRY_LOAD_CNT, 1
        VMW     ENTRY_MSR_LOAD, msr_area
        VMW     EXIT_STORE_CNT, 1
        VMW     EXIT_MSR_STORE, msr_store
        mov     dword [msr_area], 0x174         ; IA32_SYSENTER_CS
        mov     dword [msr_area + 8], 0x77
        mov     dword [msr_store], 0x174
        call    launch
        EXPECT  [launch_flags], -1, "VMLAUNCH enters the guest"
        EXPECT_VMR EXIT_REASON, 18, "VMCALL in the guest: exit reason 18"
        EXPECT_VMR EXIT_INSTR_LEN, 3, "VMCALL: instruction length 3"
        EXPECT_VMR G_RIP, g_vmcall, "guest RIP is the VMCALL"
        EXPECT  [msr_store + 8], 0x77, "entry MSR-load and exit MSR-store areas"
        call    launch
        EXPECT_VMR VM_ERROR, 4, "VMLAUNCH of a launched VMCS: error 4"
        call    resume
        EXPECT_VMR EXIT_REASON, 18, "VMRESUME re-enters at the VMCALL"

        SCENARIO 0, 0, 0, g_cpuid
        call    launch
        EXPECT_VMR EXIT_REASON, 10, "CPUID: exit reason 10"
        EXPECT_VMR EXIT_INSTR_LEN, 2, "CPUID: instruction length 2"

        SCENARIO 0, P_HLT, 0, g_hlt
        call    launch
        EXPECT_VMR EXIT_REASON, 12, "HLT exiting: exit reason 12"

        SCENARIO 0, P_UNCOND_IO, 0, g_out80
        call    launch
        EXPECT_VMR EXIT_REASON, 30, "unconditional I/O exiting: exit reason 30"
        EXPECT_VMR EXIT_QUAL, 0x00800040, "OUT 80h, AL: qualification port 80h, immediate, byte"

        SCENARIO 0, P_IO_BITMAPS, 0, g_in_dx
        VMW     IO_BITMAP_A, io_bitmap_a
        VMW     IO_BITMAP_B, io_bitmap_b
        mov     byte [io_bitmap_a + 0x70 / 8], 1 << (0x70 % 8)
        call    launch
        EXPECT_VMR EXIT_REASON, 30, "I/O bitmap: exit on port 70h only"
        EXPECT_VMR EXIT_QUAL, 0x00700009, "IN AX, DX: qualification port 70h, in, word"
        EXPECT_VMR G_RIP, g_in_dx_70, "the ports not in the bitmap ran"

        SCENARIO 0, P_CR3LOAD, 0, g_cr3
        call    launch
        EXPECT_VMR EXIT_REASON, 28, "CR3-load exiting: exit reason 28"
        EXPECT_VMR EXIT_QUAL, 0x303, "MOV CR3, EBX: qualification CR3, MOV to CR, EBX"

        SCENARIO 0, 0, 0, g_cr0
        VMW     CR0_MASK, 8                      ; CR0.TS owned by the host
        VMW     CR0_SHADOW, 8
        call    launch
        EXPECT_VMR EXIT_REASON, 28, "CLTS with TS owned and shadowed: CR-access exit"
        EXPECT_VMR EXIT_QUAL, 0x20, "CLTS: qualification access type 2"
        mov     eax, [g_regs + 0]
        and     eax, 8
        EXPECT  eax, 8, "MOV from CR0 reads TS from the read shadow"

        SCENARIO 0, P_MSR_BITMAPS, 0, g_rdmsr
        VMW     MSR_BITMAP, msr_bitmap
        mov     byte [msr_bitmap + 0x1B / 8], 1 << (0x1B % 8)
        call    launch
        EXPECT_VMR EXIT_REASON, 31, "RDMSR of a bitmap MSR: exit reason 31"
        EXPECT  [g_regs + 4], 0x1B, "RDMSR exits on IA32_APIC_BASE, not on IA32_TSC"

        SCENARIO 0, P_TSCOFF, 0, g_rdtsc
        VMW     TSC_OFFSET, 0
        mov     eax, TSC_OFFSET + 1
        mov     ebx, 0x10
        vmwrite eax, ebx                         ; offset = 2^36
        rdtsc
        mov     [scratch], edx
        call    launch
        mov     eax, [g_regs + 8]
        sub     eax, [scratch]
        EXPECT  eax, 0x10, "RDTSC with TSC offsetting adds the offset"

        SCENARIO 0, 0, 0, g_ud2
        VMW     EXC_BITMAP, 1 << 6
        call    launch
        EXPECT_VMR EXIT_REASON, 0, "exception bitmap #UD: exit reason 0"
        EXPECT_VMR EXIT_INTR_INFO, 0x80000306, "#UD: interruption info valid, hardware exception, vector 6"
        EXPECT_VMR G_RIP, g_ud2, "#UD: guest RIP is the faulting UD2"

        SCENARIO 0, 0, 0, g_spin
        VMW     ENTRY_INTR, 0x80000430           ; software interrupt 30h
        VMW     ENTRY_INSTR_LEN, 2
        call    launch
        EXPECT  [g_regs + 0], 0x5A5A0030, "event injection: INT 30h reached its handler"
        EXPECT  [guest_stack_top - 12], g_spin + 2, "injected INT 30h pushed RIP + instruction length"
        EXPECT_VMR ENTRY_INTR, 0x00000430, "VM exit clears the injection valid bit"

        SCENARIO 0, 0, 0, g_spin
        VMW     ENTRY_INTR, 0x80000B0D           ; #GP with error code
        VMW     ENTRY_ERRCODE, 0x1234
        call    launch
        EXPECT  [g_regs + 0], 0x1234, "injected #GP delivers its error code"

        SCENARIO 0, P_INTWIN, 0, g_spin
        VMW     G_RFLAGS, 0x202
        call    launch
        EXPECT_VMR EXIT_REASON, 7, "interrupt-window exiting with IF=1: exit reason 7"
        EXPECT_VMR G_RIP, g_spin, "interrupt window: exit before the first guest instruction"

        SCENARIO PIN_PREEMPT, 0, 0, g_spin
        VMW     PREEMPT_TIMER, 100
        mov     dword [want_exit], X_SAVE_PREEMPT
        call    adjust_exit
        call    launch
        EXPECT_VMR EXIT_REASON, 52, "VMX-preemption timer: exit reason 52"
        EXPECT_VMR PREEMPT_TIMER, 0, "the saved timer value is 0"

        call    setup_pit
        SCENARIO PIN_EXTINT, 0, 0, g_spin
        mov     dword [want_exit], X_ACK_INTR
        call    adjust_exit
        call    launch
        EXPECT_VMR EXIT_REASON, 1, "external-interrupt exiting with IF=0: exit reason 1"
        EXPECT_VMR EXIT_INTR_INFO, 0x80000020, "acknowledged on exit: vector 20h (IRQ 0)"
        call    stop_pit

; ---- virtual NMIs, NMI window, task switches, INIT ----
        SCENARIO PIN_VNMI, 0, 0, g_vmcall
        call    launch
        EXPECT_VMR VM_ERROR, 7, "virtual NMIs without NMI exiting: error 7"

        SCENARIO PIN_NMI, P_NMIWIN, 0, g_vmcall
        call    launch
        EXPECT_VMR VM_ERROR, 7, "NMI-window exiting without virtual NMIs: error 7"

        SCENARIO PIN_NMI | PIN_VNMI, P_NMIWIN, 0, g_spin
        call    launch
        EXPECT_VMR EXIT_REASON, 8, "NMI-window exiting, no virtual-NMI blocking: exit reason 8"
        EXPECT_VMR G_RIP, g_spin, "NMI window: exit before the first guest instruction"

        SCENARIO PIN_NMI | PIN_VNMI, P_NMIWIN, 0, g_spin
        VMW     ENTRY_INTR, 0x80000202           ; inject an NMI: virtual-NMI blocking
        mov     dword [g_nmi_count], 0
        call    launch
        EXPECT_VMR EXIT_REASON, 8, "injected NMI, handler IRETs: then the NMI-window exit"
        EXPECT  [g_nmi_count], 1, "the NMI window opened only after the guest's NMI handler ran"
        EXPECT_VMR G_INTR_STATE, 0, "IRET cleared virtual-NMI blocking"

        SCENARIO PIN_NMI | PIN_VNMI, 0, 0, g_spin
        VMW     G_INTR_STATE, 8
        VMW     ENTRY_INTR, 0x80000202
        call    launch
        EXPECT_VMR EXIT_REASON, 0x80000021, "injecting an NMI under virtual-NMI blocking: invalid guest state"

        SCENARIO 0, 0, 0, g_jmp_task
        call    launch
        EXPECT_VMR EXIT_REASON, 9, "JMP to a TSS: task-switch exit (9)"
        EXPECT_VMR EXIT_QUAL, 0x80000020, "task switch qualification: source JMP, selector 20h"
        EXPECT_VMR EXIT_INSTR_LEN, 7, "task switch by JMP ptr16:32: instruction length 7"

        SCENARIO 0, 0, 0, g_int31
        call    launch
        EXPECT_VMR EXIT_REASON, 9, "INT 31h through a task gate: task-switch exit (9)"
        EXPECT_VMR EXIT_QUAL, 0xC0000020, "task switch qualification: source IDT task gate, selector 20h"
        EXPECT_VMR IDT_VECT, 0x80000431, "task gate: IDT-vectoring information is the software interrupt"

        SCENARIO 0, 0, 0, g_self_init
        call    launch
        EXPECT_VMR EXIT_REASON, 3, "self INIT IPI in non-root operation: INIT exit (3)"
        EXPECT_VMR G_RIP, g_self_init.after, "INIT exit at the boundary after the ICR write"

; ---- EPT ----
        call    setup_ept
        mov     dword [0x2A00000], 0xCAFEF00D
        SCENARIO 0, P_SECONDARY, P2_EPT, g_ept_read
        VMW     EPT_POINTER, ept_pml4 + 0x5E     ; WB, 4-level walk, accessed/dirty flags
        call    launch
        EXPECT_VMR EXIT_REASON, 18, "EPT guest runs"
        EXPECT  [g_regs + 0], 0xCAFEF00D, "EPT maps guest-physical 40 MiB to host-physical 42 MiB"
        mov     eax, [ept_pd + 20 * 8]
        and     eax, 0x100
        EXPECT  eax, 0x100, "EPT accessed flag set"

        SCENARIO 0, P_SECONDARY, P2_EPT, g_ept_violation
        VMW     EPT_POINTER, ept_pml4 + 0x1E
        call    launch
        EXPECT_VMR EXIT_REASON, 48, "not-present EPT entry: EPT violation (48)"
        EXPECT_VMR EXIT_QUAL, 0x181, "EPT violation qualification: read, no rights, linear address"
        EXPECT_VMR GUEST_PHYS, 0x3000010, "EPT violation guest-physical address"
        EXPECT_VMR GUEST_LINEAR, 0x3000010, "EPT violation guest-linear address"

        mov     dword [ept_pd + 24 * 8], 0x3000000 | 0x80 | 0x30 | 2   ; write-only: misconfigured
        SCENARIO 0, P_SECONDARY, P2_EPT, g_ept_violation
        VMW     EPT_POINTER, ept_pml4 + 0x1E
        call    launch
        EXPECT_VMR EXIT_REASON, 49, "write-only EPT entry: EPT misconfiguration (49)"

; ---- unrestricted guest: real mode ----
        mov     esi, real_code
        mov     edi, 0x8000
        mov     ecx, real_code_end - real_code
        rep movsb
        mov     word [0x9000], 0x1111
        SCENARIO 0, P_SECONDARY, P2_EPT | P2_UNRESTRICTED, 0
        VMW     EPT_POINTER, ept_pml4 + 0x1E
        call    real_mode_guest_state
        call    launch
        EXPECT_VMR EXIT_REASON, 18, "real-mode guest under unrestricted guest runs to VMCALL"
        mov     eax, [g_regs + 0]
        and     eax, 0xFFFF
        EXPECT  eax, 0x2345, "real-mode guest computed with its own segments"

        vmxoff
        pushfd
        pop     eax
        and     eax, 0x41
        EXPECT  eax, 0, "VMXOFF: VMsucceed"

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

; ============================================================================================
; Host set-up: GDT with a TSS, an IDT with a #GP handler, 4 MiB identity paging
; ============================================================================================
setup_host:
        mov     eax, tss
        mov     [gdt + 0x18 + 2], ax
        shr     eax, 16
        mov     [gdt + 0x18 + 4], al
        mov     [gdt + 0x18 + 7], ah
        lgdt    [gdt_desc]
        jmp     0x08:.cs
.cs:    mov     ax, 0x10
        mov     ds, ax
        mov     es, ax
        mov     fs, ax
        mov     gs, ax
        mov     ss, ax
        mov     ax, 0x18
        ltr     ax
        ; host IDT: #GP (13) resumes at [gp_resume]
        mov     eax, host_gp
        mov     [host_idt + 13 * 8], ax
        mov     word [host_idt + 13 * 8 + 2], 0x08
        mov     word [host_idt + 13 * 8 + 4], 0x8E00
        shr     eax, 16
        mov     [host_idt + 13 * 8 + 6], ax
        lidt    [host_idt_desc]
        ; guest IDT: INT 30h and #GP (13) handlers
        mov     eax, g_int30
        mov     ebx, 0x30
        call    set_guest_gate
        mov     eax, g_gp
        mov     ebx, 13
        call    set_guest_gate
        mov     eax, g_nmi
        mov     ebx, 2
        call    set_guest_gate
        ; INT 31h: a task gate to the available TSS at 20h
        mov     dword [guest_idt + 0x31 * 8], 0x00200000
        mov     dword [guest_idt + 0x31 * 8 + 4], 0x00008500
        ; 4 MiB identity paging
        mov     edi, page_dir
        mov     eax, 0x83
        mov     ecx, 1024
.pd:    stosd
        add     eax, 0x400000
        loop    .pd
        mov     eax, page_dir
        mov     cr3, eax
        mov     eax, cr4
        or      eax, 0x10                       ; PSE
        mov     cr4, eax
        mov     eax, cr0
        or      eax, 0x80000020                 ; PG, NE
        mov     cr0, eax
        ret

set_guest_gate:                                 ; EAX handler, EBX vector
        mov     [guest_idt + ebx * 8], ax
        mov     word [guest_idt + ebx * 8 + 2], 0x08
        mov     word [guest_idt + ebx * 8 + 4], 0x8E00
        shr     eax, 16
        mov     [guest_idt + ebx * 8 + 6], ax
        ret

host_gp:
        add     esp, 4                          ; error code
        inc     dword [gp_count]
        mov     eax, [gp_resume]
        mov     [esp], eax
        iretd

; ============================================================================================
; VMCS set-up: VMCLEAR, VMPTRLD and every field a 32-bit guest sharing the host's world needs
; ============================================================================================

; ECX = TRUE_ capability MSR, EBX = wanted bits → EBX with the must-be-1 bits, without the
; may-not-be-1 bits (how VMMs compute controls, SDM A.3)
adjust:
        rdmsr
        or      ebx, eax
        and     ebx, edx
        ret

adjust_exit:
        mov     ecx, 0x48F
        mov     ebx, [want_exit]
        call    adjust
        VMW     EXIT_CTLS, ebx
        ret

setup_vmcs:
        vmclear [vmcs_ptr]
        vmptrld [vmcs_ptr]
        mov     ecx, 0x48D
        mov     ebx, [want_pin]
        call    adjust
        VMW     PIN_CTLS, ebx
        mov     ecx, 0x48E
        mov     ebx, [want_proc]
        call    adjust
        VMW     PROC_CTLS, ebx
        VMW     PROC_CTLS2, [want_proc2]
        VMW     VPID, 0
        mov     ecx, 0x48F
        xor     ebx, ebx
        call    adjust
        VMW     EXIT_CTLS, ebx
        mov     ecx, 0x490
        xor     ebx, ebx
        call    adjust
        VMW     ENTRY_CTLS, ebx
        VMW     EXC_BITMAP, 0
        VMW     CR3_TARGETS, 0
        VMW     ENTRY_INTR, 0
        VMW     ENTRY_LOAD_CNT, 0
        VMW     EXIT_STORE_CNT, 0
        VMW     CR0_MASK, 0
        VMW     CR0_SHADOW, 0
        ; host state
        mov     eax, cr0
        VMW     H_CR0, eax
        mov     eax, cr3
        VMW     H_CR3, eax
        mov     eax, cr4
        VMW     H_CR4, eax
        VMW     H_CS_SEL, 0x08
        VMW     H_SS_SEL, 0x10
        VMW     H_DS_SEL, 0x10
        VMW     H_ES_SEL, 0x10
        VMW     H_FS_SEL, 0x10
        VMW     H_GS_SEL, 0x10
        VMW     H_TR_SEL, 0x18
        VMW     H_TR_BASE, tss
        VMW     H_GDTR_BASE, gdt
        VMW     H_IDTR_BASE, host_idt
        ; guest state: the host's world
        mov     eax, cr0
        VMW     G_CR0, eax
        mov     eax, cr3
        VMW     G_CR3, eax
        mov     eax, cr4
        VMW     G_CR4, eax
        VMW     G_DR7, 0x400
        xor     esi, esi
.seg:   mov     eax, G_ES_SEL
        lea     eax, [eax + esi * 2]
        mov     ebx, 0x10
        cmp     esi, 1
        jne     .notcs
        mov     ebx, 0x08
.notcs: vmwrite eax, ebx
        lea     eax, [G_ES_BASE + esi * 2]
        xor     ebx, ebx
        vmwrite eax, ebx
        lea     eax, [G_ES_LIMIT + esi * 2]
        mov     ebx, 0xFFFFFFFF
        vmwrite eax, ebx
        lea     eax, [G_ES_AR + esi * 2]
        mov     ebx, 0xC093
        cmp     esi, 1
        jne     .notcs2
        mov     ebx, 0xC09B
.notcs2:
        vmwrite eax, ebx
        inc     esi
        cmp     esi, 6
        jb      .seg
        VMW     G_ES_SEL + 12, 0                 ; LDTR: unusable
        VMW     G_ES_AR + 12, 0x10000
        VMW     G_ES_SEL + 14, 0x18              ; TR: busy 32-bit TSS
        VMW     G_ES_BASE + 14, tss
        VMW     G_ES_LIMIT + 14, 0x67
        VMW     G_ES_AR + 14, 0x8B
        VMW     G_GDTR_BASE, gdt
        VMW     G_GDTR_LIMIT, gdt_end - gdt - 1
        VMW     G_IDTR_BASE, guest_idt
        VMW     G_IDTR_LIMIT, 0x7FF
        VMW     G_RSP, guest_stack_top
        VMW     G_RIP, [guest_entry]
        VMW     G_RFLAGS, 2
        VMW     LINK_PTR, 0xFFFFFFFF
        VMW     LINK_PTR + 1, 0xFFFFFFFF
        VMW     G_INTR_STATE, 0
        VMW     G_ACTIVITY, 0
        mov     dword [guest_stack_top - 12], 0
        mov     dword [want_exit], 0
        ret

real_mode_guest_state:
        VMW     G_CR0, 0x30                      ; NE, ET: real mode, no paging
        VMW     G_CR4, 0x2000
        xor     esi, esi
.seg:   lea     eax, [G_ES_SEL + esi * 2]
        xor     ebx, ebx
        vmwrite eax, ebx
        lea     eax, [G_ES_BASE + esi * 2]
        vmwrite eax, ebx
        lea     eax, [G_ES_LIMIT + esi * 2]
        mov     ebx, 0xFFFF
        vmwrite eax, ebx
        lea     eax, [G_ES_AR + esi * 2]
        mov     ebx, 0x93
        vmwrite eax, ebx
        inc     esi
        cmp     esi, 6
        jb      .seg
        VMW     G_ES_SEL + 2, 0x0800             ; CS = 0800h, base 8000h
        VMW     G_ES_BASE + 2, 0x8000
        VMW     G_ES_AR + 2, 0x9B
        VMW     G_ES_BASE + 14, 0
        VMW     G_ES_SEL + 14, 0
        VMW     G_ES_LIMIT + 14, 0xFFFF
        VMW     G_GDTR_BASE, 0
        VMW     G_GDTR_LIMIT, 0xFFFF
        VMW     G_IDTR_BASE, 0
        VMW     G_IDTR_LIMIT, 0x3FF
        VMW     G_RIP, 0
        VMW     G_RSP, 0x7000
        ret

; ============================================================================================
; Entering the guest: the host continues at .exit with the stack as VMLAUNCH left it
; ============================================================================================
launch:
        mov     byte [use_resume], 0
        jmp     enter_guest
resume:
        mov     byte [use_resume], 1
enter_guest:
        pushad
        VMW     H_RSP, esp
        VMW     H_RIP, .exit
        cmp     byte [use_resume], 0
        jne     .resume
        vmlaunch
        jmp     .failed
.resume:
        vmresume
.failed:
        pushfd
        pop     eax
        and     eax, 0x8D5
        mov     [launch_flags], eax
        popad
        ret
.exit:
        mov     [g_regs + 0], eax
        mov     [g_regs + 4], ecx
        mov     [g_regs + 8], edx
        mov     dword [launch_flags], -1
        popad
        ret

setup_pit:
        mov     al, 0x11                        ; 8259A: ICW1..ICW4, vectors 20h/28h
        out     0x20, al
        out     0xA0, al
        mov     al, 0x20
        out     0x21, al
        mov     al, 0x28
        out     0xA1, al
        mov     al, 4
        out     0x21, al
        mov     al, 2
        out     0xA1, al
        mov     al, 1
        out     0x21, al
        out     0xA1, al
        mov     al, 0xFE                        ; only IRQ 0
        out     0x21, al
        mov     al, 0xFF
        out     0xA1, al
        mov     al, 0x34                        ; PIT channel 0, rate generator
        out     0x43, al
        mov     al, 0x00
        out     0x40, al
        mov     al, 0x10                        ; 4096 ticks: about 3.4 ms
        out     0x40, al
        ret

stop_pit:
        mov     al, 0xFF
        out     0x21, al
        mov     al, 0x20                        ; EOI
        out     0x20, al
        ret

; EPT: 2 MiB identity pages for 0-64 MiB, except 40 MiB → 42 MiB and 48 MiB not present
setup_ept:
        mov     dword [ept_pml4], ept_pdpt + 7
        mov     dword [ept_pdpt], ept_pd + 7
        xor     ecx, ecx
.pd:    mov     eax, ecx
        shl     eax, 21
        or      eax, 0x80 | 0x30 | 7           ; 2 MiB page, WB, RWX
        mov     [ept_pd + ecx * 8], eax
        inc     ecx
        cmp     ecx, 32
        jb      .pd
        mov     dword [ept_pd + 20 * 8], 0x2A00000 | 0x80 | 0x30 | 7
        mov     dword [ept_pd + 24 * 8], 0
        ret

; ============================================================================================
; Guests
; ============================================================================================
g_vmcall:
        vmcall
g_cpuid:
        xor     eax, eax
        cpuid
        vmcall
g_hlt:
        hlt
        vmcall
g_out80:
        out     0x80, al
        vmcall
g_in_dx:
        mov     dx, 0x71
        in      al, dx
        mov     dx, 0x6E
        in      ax, dx
        mov     dx, 0x70
g_in_dx_70:
        in      ax, dx
        vmcall
g_cr3:
        mov     ebx, cr3
        mov     cr3, ebx
        vmcall
g_cr0:
        mov     eax, cr0
        clts
        vmcall
g_rdmsr:
        mov     ecx, 0x10
        rdmsr
        mov     ecx, 0x1B
        rdmsr
        vmcall
g_rdtsc:
        rdtsc
        vmcall
g_ud2:
        ud2
g_spin:
        jmp     g_spin
g_int30:
        mov     eax, 0x5A5A0030
        vmcall
g_gp:
        pop     eax
        vmcall
g_nmi:
        inc     dword [g_nmi_count]
        iretd
g_jmp_task:
        jmp     0x20:0
g_int31:
        int     0x31
        vmcall
g_self_init:
        mov     dword [0xFEE00300], 0x00044500  ; ICR: self, assert, INIT
.after: jmp     .after
g_ept_read:
        mov     eax, [0x2800000]
        vmcall
g_ept_violation:
        mov     eax, [0x3000010]
        vmcall

; real-mode guest code, copied to 8000h and run at 0800h:0000h
real_code:
        db      0xB8, 0x34, 0x12                ; mov ax, 1234h
        db      0x03, 0x06, 0x00, 0x90          ; add ax, [9000h]
        db      0x0F, 0x01, 0xC1                ; vmcall
real_code_end:

; ============================================================================================
; Reporting
; ============================================================================================
; AL = 1 pass / 0 fail, ESI = name
report:
        inc     dword [check_number]
        push    eax
        test    al, al
        jz      .fail
        push    esi
        mov     esi, s_pass
        call    print
        pop     esi
        call    print
        call    crlf
        pop     eax
        ret
.fail:
        push    esi
        mov     esi, s_fail
        call    print
        pop     esi
        call    print
        mov     esi, s_got
        call    print
        mov     eax, [actual]
        call    print_hex
        mov     al, ')'
        call    putc
        call    crlf
        cmp     dword [first_failure], 0
        jne     .done
        mov     eax, [check_number]
        mov     [first_failure], eax
.done:
        pop     eax
        ret

print_hex:                                      ; EAX
        mov     ecx, 8
.l:     rol     eax, 4
        push    eax
        and     al, 0xF
        add     al, '0'
        cmp     al, '9'
        jbe     .d
        add     al, 'A' - '0' - 10
.d:     call    putc
        pop     eax
        loop    .l
        ret

crlf:
        mov     al, 13
        call    putc
        mov     al, 10
        jmp     putc

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

s_banner        db "pcvm VMX test hypervisor", 13, 10, 0
s_pass          db "PASS: ", 0
s_fail          db "FAIL: ", 0
s_got           db " (got ", 0
s_all_passed    db "PASS: all checks", 13, 10, 0
s_some_failed   db "FAIL: some checks failed", 13, 10, 0

        times   (8 - ($ - $$) % 8) % 8 db 0
gdt:
        dq      0
        dq      0x00CF9B000000FFFF              ; 08h: flat code
        dq      0x00CF93000000FFFF              ; 10h: flat data
        dq      0x0000890000000067              ; 18h: 32-bit TSS (base filled in)
        dq      0x0000890000000067              ; 20h: an available 32-bit TSS (task-switch target)
gdt_end:
gdt_desc:
        dw      gdt_end - gdt - 1
        dd      gdt
host_idt_desc:
        dw      0x7FF
        dd      host_idt
vmxon_ptr       dq      vmxon_region
vmcs_ptr        dq      vmcs_region
bad_ptr         dq      bad_region
misaligned_ptr  dq      vmcs_region + 8
check_number    dd 0
first_failure   dd 0
        times   (4096 - ($ - $$) % 4096) % 4096 db 0   ; the bss below starts page-aligned
file_end:

; ---- bss (zeroed by the loader) ----
        absolute file_end
vmxon_region    resb 4096
vmcs_region     resb 4096
bad_region      resb 4096
page_dir        resb 4096
io_bitmap_a     resb 4096
io_bitmap_b     resb 4096
msr_bitmap      resb 4096
ept_pml4        resb 4096
ept_pdpt        resb 4096
ept_pd          resb 4096
host_idt        resb 2048
guest_idt       resb 2048
msr_area        resb 16
msr_store       resb 16
tss             resb 128
actual          resd 1
revision        resd 1
scratch         resd 2
gp_count        resd 1
gp_resume       resd 1
want_pin        resd 1
want_proc       resd 1
want_proc2      resd 1
want_exit       resd 1
guest_entry     resd 1
launch_flags    resd 1
g_regs          resd 4
g_nmi_count     resd 1
use_resume      resb 4
                resb 4096
guest_stack_top:
                resb 8192
stack_top:
bss_end:
