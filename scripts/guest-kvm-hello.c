/*
 * kvm-hello: the guest's nested-virtualization check. Run inside a pcvm guest whose CPU has VMX
 * (`-cpu pcvm,+vmx`), it drives the guest kernel's own KVM (kvm_intel) through /dev/kvm: one VM,
 * one vCPU in real mode, 16 KiB of memory. The nested guest
 *   - writes a greeting to port 0x3f8, one OUT per byte (KVM_EXIT_IO each),
 *   - adds 1..100 in a loop and writes the sum to port 0x10 (a 16-bit OUT),
 *   - stores a word to 0x8000, outside its memory (KVM_EXIT_MMIO),
 *   - adds BX (set by us through KVM_SET_REGS) to AX and halts (KVM_EXIT_HLT).
 * Prints "KVM-HELLO OK <greeting> exits=<n>" when everything came back as expected,
 * "KVM-HELLO FAIL <why>" otherwise (exit status 1).
 *
 * Built by scripts/build-guests.sh into the initramfs as /bin/kvm-hello (static, -m32 for i386).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define MEM_SIZE 0x4000
#define CODE_AT 0x1000
#define GREETING_AT 0x1100
#define MMIO_AT 0x8000

static const char greeting[] = "nested-guest";

/* Real-mode code at CODE_AT (offsets in the comments). */
static const uint8_t code[] = {
    0xba, 0xf8, 0x03,       /* 00 mov dx, 0x3f8 */
    0xbe, 0x00, 0x11,       /* 03 mov si, GREETING_AT */
    0xac,                   /* 06 lodsb */
    0x84, 0xc0,             /* 07 test al, al */
    0x74, 0x03,             /* 09 jz 0e */
    0xee,                   /* 0b out dx, al */
    0xeb, 0xf8,             /* 0c jmp 06 */
    0x31, 0xc0,             /* 0e xor ax, ax */
    0xb9, 0x64, 0x00,       /* 10 mov cx, 100 */
    0x01, 0xc8,             /* 13 add ax, cx */
    0xe2, 0xfc,             /* 15 loop 13 */
    0xe7, 0x10,             /* 17 out 0x10, ax */
    0xc7, 0x06, 0x00, 0x80, /* 19 mov word [MMIO_AT], 0xbeef */
    0xef, 0xbe,
    0xb8, 0x34, 0x12,       /* 1f mov ax, 0x1234 */
    0x01, 0xd8,             /* 22 add ax, bx */
    0xf4,                   /* 24 hlt */
};

static int fail(const char *what) {
    printf("KVM-HELLO FAIL %s: %s\n", what, strerror(errno));
    return 1;
}

static int failf(const char *what, unsigned long long value) {
    printf("KVM-HELLO FAIL %s %#llx\n", what, value);
    return 1;
}

int main(void) {
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) return fail("open /dev/kvm");
    if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) return fail("KVM_GET_API_VERSION");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0) return fail("KVM_CREATE_VM");

    uint8_t *mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return fail("mmap guest memory");
    memcpy(mem + CODE_AT, code, sizeof code);
    memcpy(mem + GREETING_AT, greeting, sizeof greeting);
    struct kvm_userspace_memory_region region = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE, .userspace_addr = (uintptr_t)mem,
    };
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) return fail("KVM_SET_USER_MEMORY_REGION");

    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0) return fail("KVM_CREATE_VCPU");
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (run_size < (int)sizeof(struct kvm_run)) return fail("KVM_GET_VCPU_MMAP_SIZE");
    struct kvm_run *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED) return fail("mmap kvm_run");

    struct kvm_sregs sregs;
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) return fail("KVM_GET_SREGS");
    sregs.cs.base = 0; sregs.cs.selector = 0;
    sregs.ds.base = 0; sregs.ds.selector = 0;
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) return fail("KVM_SET_SREGS");
    struct kvm_regs regs = { .rip = CODE_AT, .rbx = 0x1111, .rflags = 0x2 };
    if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) return fail("KVM_SET_REGS");

    char text[sizeof greeting] = { 0 };
    unsigned n = 0, sum = 0, mmio = 0;
    for (int exits = 1; exits <= 1000; exits++) {
        if (ioctl(vcpu, KVM_RUN, 0) < 0) return fail("KVM_RUN");
        const uint8_t *data = (const uint8_t *)run + run->io.data_offset;
        switch (run->exit_reason) {
        case KVM_EXIT_IO:
            if (run->io.direction != KVM_EXIT_IO_OUT) return failf("IN from port", run->io.port);
            if (run->io.port == 0x3f8 && run->io.size == 1 && n < sizeof text - 1) text[n++] = (char)data[0];
            else if (run->io.port == 0x10 && run->io.size == 2) sum = data[0] | data[1] << 8;
            else return failf("OUT to port", run->io.port);
            break;
        case KVM_EXIT_MMIO:
            if (!run->mmio.is_write || run->mmio.phys_addr != MMIO_AT || run->mmio.len != 2)
                return failf("MMIO at", run->mmio.phys_addr);
            mmio = run->mmio.data[0] | run->mmio.data[1] << 8;
            break;
        case KVM_EXIT_HLT:
            if (ioctl(vcpu, KVM_GET_REGS, &regs) < 0) return fail("KVM_GET_REGS");
            if ((regs.rax & 0xffff) != 0x2345) return failf("ax", regs.rax);
            if (sum != 5050) return failf("sum", sum);
            if (mmio != 0xbeef) return failf("mmio value", mmio);
            if (strcmp(text, greeting) != 0) { printf("KVM-HELLO FAIL text '%s'\n", text); return 1; }
            printf("KVM-HELLO OK %s exits=%d\n", text, exits);
            return 0;
        case KVM_EXIT_FAIL_ENTRY:
            return failf("entry failure reason", run->fail_entry.hardware_entry_failure_reason);
        case KVM_EXIT_INTERNAL_ERROR:
            return failf("internal error", run->internal.suberror);
        default:
            return failf("exit reason", run->exit_reason);
        }
    }
    printf("KVM-HELLO FAIL more than 1000 exits\n");
    return 1;
}
