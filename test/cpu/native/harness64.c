/*
 * Native reference runner for the 64-bit CPU conformance fixtures (scripts/gen-cpu-fixtures64.mjs).
 *
 * The 64-bit twin of harness.c: runs machine-code snippets on the host CPU in 64-bit user
 * mode and prints the resulting registers, arithmetic flags and a data window, so that the
 * expected values of the test/cpu/fixtures/ files ending in 64 come from real hardware.
 *
 * The snippet is copied to CODE_ADDR with a RET appended and called with the 15 general
 * registers other than RSP and RFLAGS loaded from the input line; snippets must not touch RSP.
 * The data window lives at DATA_ADDR, the address the emulator harness uses. SIGFPE (#DE),
 * SIGILL (#UD), SIGSEGV/SIGBUS are caught and reported.
 *
 * Protocol, one case per line on stdin (all numbers hex):
 *   CODE RAX RCX RDX RBX RBP RSI RDI R8 R9 R10 R11 R12 R13 R14 R15 RFLAGS MEM
 * Output: OK <same 15 registers> RFLAGS MEM   or   SIG <signal number>
 *
 * Build: gcc -O1 -no-pie -fno-pic -o harness64 harness64.c
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#if !defined(__x86_64__)
#error "build for x86-64"
#endif

#define CODE_ADDR 0x00100000u
#define DATA_ADDR 0x00110000u
#define REGION_SIZE 0x00020000u
#define DATA_CLEAR 0x10000u
#define MAX_MEM 0x1000u

/* Register order: RAX RCX RDX RBX RSP(unused) RBP RSI RDI R8..R15, as in the ModRM numbering. */
uint64_t in_regs[16];
uint64_t in_flags;
uint64_t out_regs[16];
uint64_t out_flags;
uint64_t saved_rsp;
uint64_t code_ptr = CODE_ADDR;

void run_case(void);
__asm__(
    ".text\n"
    ".globl run_case\n"
    "run_case:\n"
    "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
    "  movq %rsp, saved_rsp(%rip)\n"
    "  pushq in_flags(%rip)\n"
    "  movq in_regs+0(%rip), %rax\n  movq in_regs+8(%rip), %rcx\n  movq in_regs+16(%rip), %rdx\n"
    "  movq in_regs+24(%rip), %rbx\n  movq in_regs+40(%rip), %rbp\n  movq in_regs+48(%rip), %rsi\n"
    "  movq in_regs+56(%rip), %rdi\n  movq in_regs+64(%rip), %r8\n  movq in_regs+72(%rip), %r9\n"
    "  movq in_regs+80(%rip), %r10\n  movq in_regs+88(%rip), %r11\n  movq in_regs+96(%rip), %r12\n"
    "  movq in_regs+104(%rip), %r13\n  movq in_regs+112(%rip), %r14\n  movq in_regs+120(%rip), %r15\n"
    "  popfq\n"
    "  call *code_ptr(%rip)\n"
    "  pushfq\n"
    "  popq out_flags(%rip)\n"
    "  movq %rax, out_regs+0(%rip)\n  movq %rcx, out_regs+8(%rip)\n  movq %rdx, out_regs+16(%rip)\n"
    "  movq %rbx, out_regs+24(%rip)\n  movq %rbp, out_regs+40(%rip)\n  movq %rsi, out_regs+48(%rip)\n"
    "  movq %rdi, out_regs+56(%rip)\n  movq %r8, out_regs+64(%rip)\n  movq %r9, out_regs+72(%rip)\n"
    "  movq %r10, out_regs+80(%rip)\n  movq %r11, out_regs+88(%rip)\n  movq %r12, out_regs+96(%rip)\n"
    "  movq %r13, out_regs+104(%rip)\n  movq %r14, out_regs+112(%rip)\n  movq %r15, out_regs+120(%rip)\n"
    "  cld\n"
    "  movq saved_rsp(%rip), %rsp\n"
    "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
    "  ret\n");

static sigjmp_buf jump_back;

static void on_signal(int sig) { siglongjmp(jump_back, sig); }

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static long unhex(const char *s, uint8_t *dst, size_t max) {
  size_t n = strlen(s);
  if (n % 2 != 0 || n / 2 > max) return -1;
  for (size_t i = 0; i < n / 2; i++) {
    int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return -1;
    dst[i] = (uint8_t)(hi << 4 | lo);
  }
  return (long)(n / 2);
}

static const int ORDER[15] = {0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

int main(void) {
  void *region = mmap((void *)CODE_ADDR, REGION_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (region != (void *)CODE_ADDR) {
    perror("mmap at CODE_ADDR");
    return 2;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGFPE, &sa, NULL);
  sigaction(SIGILL, &sa, NULL);
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  setvbuf(stdout, NULL, _IOFBF, 1 << 20);

  char *line = NULL;
  size_t cap = 0;
  uint8_t *code = (uint8_t *)CODE_ADDR;
  uint8_t *data = (uint8_t *)DATA_ADDR;
  unsigned long lineno = 0;
  while (getline(&line, &cap, stdin) > 0) {
    lineno++;
    char *tok = strtok(line, " \n");
    if (!tok) continue;
    long n = unhex(tok, code, 4000);
    if (n < 0) {
      fprintf(stderr, "line %lu: bad code\n", lineno);
      return 2;
    }
    code[n] = 0xc3; /* RET back to run_case */
    memset(in_regs, 0, sizeof in_regs);
    for (int i = 0; i < 15; i++) {
      tok = strtok(NULL, " \n");
      if (!tok) { fprintf(stderr, "line %lu: malformed\n", lineno); return 2; }
      in_regs[ORDER[i]] = strtoull(tok, NULL, 16);
    }
    tok = strtok(NULL, " \n");
    if (!tok) { fprintf(stderr, "line %lu: malformed\n", lineno); return 2; }
    in_flags = strtoull(tok, NULL, 16);
    tok = strtok(NULL, " \n");
    if (!tok) { fprintf(stderr, "line %lu: malformed\n", lineno); return 2; }
    memset(data, 0, DATA_CLEAR);
    long m = 0;
    if (strcmp(tok, "-") != 0) {
      m = unhex(tok, data, MAX_MEM);
      if (m < 0) { fprintf(stderr, "line %lu: bad memory\n", lineno); return 2; }
    }
    int sig = sigsetjmp(jump_back, 1);
    if (sig != 0) {
      printf("SIG %d\n", sig);
      continue;
    }
    run_case();
    printf("OK");
    for (int i = 0; i < 15; i++) printf(" %llx", (unsigned long long)out_regs[ORDER[i]]);
    printf(" %llx ", (unsigned long long)out_flags);
    if (m == 0) {
      fputs("-", stdout);
    } else {
      for (long i = 0; i < m; i++) printf("%02x", data[i]);
    }
    putchar('\n');
  }
  free(line);
  return 0;
}
