/*
 * Native reference runner for the CPU conformance fixtures (see scripts/gen-cpu-fixtures.mjs).
 *
 * Runs machine-code snippets on the host CPU in 32-bit user mode (built with gcc -m32) and
 * prints the resulting registers, arithmetic flags and a memory window, so that the expected
 * values of the JSON files under test/cpu/fixtures come from real hardware, not from the emulator.
 *
 * The snippet is copied to a fixed address (CODE_ADDR) with a RET appended and called with
 * every general register and EFLAGS loaded from the input line; snippets must not touch ESP.
 * A data window lives at DATA_ADDR, the same address the emulator harness uses, so that
 * addresses held in registers mean the same thing on both sides. SIGFPE (#DE), SIGILL (#UD),
 * SIGSEGV/SIGBUS are caught and reported.
 *
 * Protocol, one case per line on stdin (all numbers hex):
 *   CODE EAX ECX EDX EBX EBP ESI EDI EFLAGS MEM
 * where MEM is the initial content of the data window in hex, or "-" for none. Output:
 *   OK EAX ECX EDX EBX EBP ESI EDI EFLAGS MEM     (MEM: the window after the run, same length)
 *   SIG <signal number>
 *
 * Build: gcc -m32 -O1 -no-pie -fno-pic -o harness harness.c
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#if !defined(__i386__)
#error "build with gcc -m32: the fixtures need exact 32-bit (and BCD) instruction behaviour"
#endif

#define CODE_ADDR 0x00100000u
#define DATA_ADDR 0x00110000u
#define REGION_SIZE 0x00020000u
#define DATA_CLEAR 0x10000u
#define MAX_MEM 0x1000u

/* Register order: EAX ECX EDX EBX ESP(unused) EBP ESI EDI, as in the ModRM numbering. */
uint32_t in_regs[8];
uint32_t in_eflags;
uint32_t out_regs[8];
uint32_t out_eflags;
uint32_t saved_esp;
uint32_t code_ptr = CODE_ADDR;

void run_case(void);
__asm__(
    ".text\n"
    ".globl run_case\n"
    "run_case:\n"
    "  pushl %ebp\n"
    "  pushl %ebx\n"
    "  pushl %esi\n"
    "  pushl %edi\n"
    "  movl %esp, saved_esp\n"
    "  movl in_regs+0, %eax\n"
    "  movl in_regs+4, %ecx\n"
    "  movl in_regs+8, %edx\n"
    "  movl in_regs+12, %ebx\n"
    "  movl in_regs+20, %ebp\n"
    "  movl in_regs+24, %esi\n"
    "  movl in_regs+28, %edi\n"
    "  pushl in_eflags\n"
    "  popfl\n"
    "  call *code_ptr\n"
    "  pushfl\n"
    "  popl out_eflags\n"
    "  movl %eax, out_regs+0\n"
    "  movl %ecx, out_regs+4\n"
    "  movl %edx, out_regs+8\n"
    "  movl %ebx, out_regs+12\n"
    "  movl %ebp, out_regs+20\n"
    "  movl %esi, out_regs+24\n"
    "  movl %edi, out_regs+28\n"
    "  cld\n"
    "  movl saved_esp, %esp\n"
    "  popl %edi\n"
    "  popl %esi\n"
    "  popl %ebx\n"
    "  popl %ebp\n"
    "  ret\n");

static sigjmp_buf jump_back;

static void on_signal(int sig) { siglongjmp(jump_back, sig); }

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes hex text into dst; returns the byte count or -1. */
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
  static char code_hex[4096], mem_hex[2 * MAX_MEM + 8];
  uint8_t *code = (uint8_t *)CODE_ADDR;
  uint8_t *data = (uint8_t *)DATA_ADDR;
  unsigned long lineno = 0;
  while (getline(&line, &cap, stdin) > 0) {
    lineno++;
    unsigned r[8];
    if (sscanf(line, "%4095s %x %x %x %x %x %x %x %x %8199s", code_hex, &r[0], &r[1], &r[2], &r[3], &r[5],
               &r[6], &r[7], &in_eflags, mem_hex) != 10) {
      fprintf(stderr, "line %lu: malformed\n", lineno);
      return 2;
    }
    for (int i = 0; i < 8; i++) in_regs[i] = i == 4 ? 0 : r[i];
    long n = unhex(code_hex, code, 4000);
    if (n < 0) {
      fprintf(stderr, "line %lu: bad code\n", lineno);
      return 2;
    }
    code[n] = 0xc3; /* RET back to run_case */
    memset(data, 0, DATA_CLEAR);
    long m = 0;
    if (strcmp(mem_hex, "-") != 0) {
      m = unhex(mem_hex, data, MAX_MEM);
      if (m < 0) {
        fprintf(stderr, "line %lu: bad memory\n", lineno);
        return 2;
      }
    }
    int sig = sigsetjmp(jump_back, 1);
    if (sig != 0) {
      printf("SIG %d\n", sig);
      continue;
    }
    run_case();
    printf("OK %x %x %x %x %x %x %x %x ", out_regs[0], out_regs[1], out_regs[2], out_regs[3], out_regs[5],
           out_regs[6], out_regs[7], out_eflags);
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
